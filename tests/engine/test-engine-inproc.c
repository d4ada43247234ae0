/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The engine against the simulated bootloader in this process: this program defines
 * libusb_control_transfer() and libusb_set_interface_alt_setting(), which the engine's references
 * resolve to before libusb's, and the model answers in virtual time. Through umockdev every request
 * costs most of a millisecond; here microseconds, so the real 65,533-block set-address window is
 * written past its end, and the engine's own decisions (which sectors a skip leaves, what a failed
 * block does) are checked request by request.
 */
#include <errno.h>
#include <string.h>
#include <sys/prctl.h>

#include "dfuse-internal.h"
#include "sim.h"
#include "test-main.h"
#include <glib.h>

/* The transport: the model in virtual time, with what the engine asked for recorded. */
static struct {
        SimBoard *board;
        uint64_t now; /* virtual microseconds */
        GArray *set_addresses;
        unsigned max_block;
        unsigned blocks;
        unsigned uploads;
        atomic_bool *cancel_after_uploads; /* set once cancel_uploads UPLOADs have been answered */
        unsigned cancel_uploads;
} bus;

int LIBUSB_CALL libusb_control_transfer(libusb_device_handle *handle, uint8_t bmRequestType,
                                        uint8_t bRequest, uint16_t wValue, uint16_t wIndex,
                                        unsigned char *data, uint16_t wLength, unsigned int timeout) {
        SimSetup s = {bmRequestType, bRequest, wValue, wIndex, wLength};
        uint64_t ready = bus.now;
        unsigned events = 0;
        size_t len = wLength;
        bool dnload = (bmRequestType & 0x60) == 0x20 && bRequest == 1 && wLength > 0;

        g_assert_true(handle == (void *)&bus);
        if (dnload && wValue == 0 && data[0] == 0x21 && wLength == 5) {
                uint32_t a = data[1] | data[2] << 8 | data[3] << 16 | (uint32_t)data[4] << 24;
                g_array_append_val(bus.set_addresses, a);
        }
        if (dnload && wValue >= 2) {
                bus.max_block = MAX(bus.max_block, wValue);
                bus.blocks++;
        }
        SimResult r = sim_board_control(bus.board, &s, data, &len, bus.now, &ready, &events);
        if ((bmRequestType & 0xE0) == 0xA0 && bRequest == 2 && ++bus.uploads == bus.cancel_uploads &&
            bus.cancel_after_uploads)
                atomic_store(bus.cancel_after_uploads, true);
        bus.now = MAX(bus.now, ready);
        if ((bmRequestType & 0x60) == 0x20 && bRequest == 3 && r == SIM_OK && len == 6) {
                /*
                 * The engine sleeps bwPollTimeout in real time: the wait happens here, in virtual time,
                 * and the engine is told to poll again at once. The model still sees every poll come
                 * after its operation's time, as from a host that waited.
                 */
                bus.now += (uint64_t)(data[1] | data[2] << 8 | data[3] << 16) * 1000;
                data[1] = data[2] = data[3] = 0;
        }
        switch (r) {
        case SIM_OK:
                return (int)len;
        case SIM_STALL:
                return LIBUSB_ERROR_PIPE;
        case SIM_NO_ANSWER:
                return LIBUSB_ERROR_TIMEOUT;
        case SIM_DISCONNECT:
        default:
                return LIBUSB_ERROR_NO_DEVICE;
        }
}

int LIBUSB_CALL libusb_set_interface_alt_setting(libusb_device_handle *handle, int interface_number,
                                                 int alternate_setting) {
        g_assert_true(handle == (void *)&bus);
        g_assert_cmpint(interface_number, ==, 0);
        return sim_board_set_alt(bus.board, (unsigned)alternate_setting) < 0 ? LIBUSB_ERROR_NOT_FOUND : 0;
}

/* A board of the given options behind the in-process transport, set up as dfuse_open_device() does. */
static void inproc_open(DfuseDevice *d, const SimBoardOptions *o) {
        bus.board = sim_board_new(o);
        g_assert_nonnull(bus.board);
        bus.now = 0;
        bus.max_block = bus.blocks = bus.uploads = bus.cancel_uploads = 0;
        bus.cancel_after_uploads = NULL;
        bus.set_addresses = g_array_new(FALSE, FALSE, sizeof(uint32_t));
        *d = (DfuseDevice){0};
        dfuse_device_init(d);
        d->handle = (void *)&bus;
        d->info.transfer_size = o->part->transfer_size;
        d->info.part = o->part;
        d->info.n_alt = g_strv_length((char **)o->part->alt_strings);
        dfuse_quirks_lookup(o->part->vid, o->part->pid, o->part->bcd_device, o->part, &d->quirks);
}

static void inproc_close(void) {
        g_array_free(bus.set_addresses, TRUE);
        bus.board = sim_board_free(bus.board);
}

/* The plan for one segment of an image on a part, as dfusd would make it. */
static Plan *plan_for(const PartInfo *part, uint32_t address, const uint8_t *data, uint32_t size,
                      const PlanOptions *o) {
        _cleanup_(memmap_freep) MemMap *map = NULL;
        _cleanup_(image_freep) Image *img = image_new("test.hex");
        DfuError error = DFU_ERROR_INIT;
        Plan *p = NULL;

        g_assert_cmpint(part_memmap(part, &map, &error), ==, 0);
        g_assert_cmpint(image_add_segment(img, address, data, size, "test.hex", -1, &error), ==, 0);
        g_assert_cmpint(plan_build(img, &map->layouts[0], part->transfer_size, part, o, &p, &error), ==, 0);
        return p;
}

/*
 * Three pages of a G431 (2 KiB each) where the middle one already holds the image: it is read once
 * with its neighbours (one set-address for the three), neither erased nor written; the pages on
 * both sides of it are.
 */
static void test_skip_identical_middle(void) {
        enum { PAGE = 2048, SIZE = 3 * PAGE };
        const uint32_t base = 0x08000000;
        SimBoardOptions o = {.part = part_find("g431"), .time_scale = 1.0};
        g_autofree uint8_t *data = g_malloc(SIZE), *back = g_malloc(SIZE);
        DfuseDevice d;
        DfuseStats stats;
        DfuError error = DFU_ERROR_INIT;

        for (size_t i = 0; i < SIZE; i++)
                data[i] = (uint8_t)(i * 13 + 5);
        inproc_open(&d, &o);
        g_assert_cmpint(sim_board_write_flash(bus.board, base + PAGE, data + PAGE, PAGE), ==, 0);
        _cleanup_(plan_freep) Plan *plan =
                plan_for(o.part, base, data, SIZE, &(PlanOptions){.skip = PLAN_SKIP_IDENTICAL});
        g_assert_cmpuint(plan->n_erases, ==, 3);

        int r = dfuse_execute(&d, plan, NULL, NULL, NULL, &stats, &error);
        g_assert_cmpstr(error.code ? error.message : "", ==, "");
        g_assert_cmpint(r, ==, 0);
        const uint32_t expect[] = {base, base, base + 2 * PAGE};
        g_assert_cmpmem(bus.set_addresses->data, bus.set_addresses->len * sizeof(uint32_t), expect,
                        sizeof(expect));
        const SimCounters *c = sim_board_counters(bus.board);
        g_assert_cmpuint(c->erase, ==, 2);
        g_assert_cmpuint(c->erases_per_sector[0], ==, 1);
        g_assert_cmpuint(c->erases_per_sector[1], ==, 0);
        g_assert_cmpuint(c->erases_per_sector[2], ==, 1);
        g_assert_cmpuint(c->bytes_written, ==, 2 * PAGE);
        g_assert_cmpuint(stats.erases_skipped, ==, 1);
        g_assert_cmpint(sim_board_read_flash(bus.board, base, back, SIZE), ==, 0);
        g_assert_cmpmem(back, SIZE, data, SIZE);
        inproc_close();
}

/* A block the board refuses (errPROG) ends the job there, with no verify to notice it later. */
static void test_failed_block(void) {
        SimBoardOptions o = {.part = part_find("g431"), .time_scale = 1.0};
        SimFaultSpec f = {.fault = SIM_FAULT_STATUS, .phase = SIM_PHASE_WRITE, .after = 4, .status = 6};
        uint8_t data[4096];
        DfuseDevice d;
        DfuError error = DFU_ERROR_INIT;

        memset(data, 0x5A, sizeof(data));
        inproc_open(&d, &o);
        g_assert_cmpint(sim_board_inject(bus.board, &f), ==, 0);
        _cleanup_(plan_freep) Plan *plan =
                plan_for(o.part, 0x08000000, data, sizeof(data), &(PlanOptions){});
        g_assert_cmpint(dfuse_execute(&d, plan, NULL, NULL, NULL, NULL, &error), ==, -EIO);
        g_assert_cmpstr(error.message, ==,
                        "write of block at 0x08000400 failed: device reports errPROG in state dfuERROR");
        /* nothing after the refused block was sent */
        g_assert_cmpuint(bus.blocks, ==, 2);
        inproc_close();
}

static void test_no_plan(void) {
        DfuseDevice d = {0};
        Plan plan = {0};
        DfuError error = DFU_ERROR_INIT;

        g_assert_cmpint(dfuse_execute(NULL, &plan, NULL, NULL, NULL, NULL, &error), ==, -EINVAL);
        g_assert_cmpstr(error.message, ==, "no device or no plan");
        error = (DfuError)DFU_ERROR_INIT;
        g_assert_cmpint(dfuse_execute(&d, NULL, NULL, NULL, NULL, NULL, &error), ==, -EINVAL);
        g_assert_cmpstr(error.message, ==, "no device or no plan");
}

/*
 * 65,536 blocks, more than one window: the real window puts the second set-address exactly 65,533
 * blocks in, and a window one block longer or shorter moves it. A block lands at (n - 2) times the
 * board's wTransferSize, so blocks must be the board's size; an H743 with wTransferSize 64 (DFU allows
 * any) and a 4 MiB bank keeps the flash small while the window stays the real one.
 */
static void test_real_window(void) {
        enum { TS = 64, SIZE = 65536 * TS, WINDOW = 65533 };
        const uint32_t base = 0x08000000;
        const char *alts[8] = {"@Internal Flash   /0x08000000/32*128Kg"};
        PartInfo part = *part_find("h743");
        for (size_t i = 1; i < G_N_ELEMENTS(alts) - 1 && part.alt_strings[i]; i++)
                alts[i] = part.alt_strings[i];
        part.alt_strings = alts;
        part.transfer_size = TS;
        SimBoardOptions o = {.part = &part, .time_scale = 1.0};
        g_autofree uint8_t *data = g_malloc(SIZE), *back = g_malloc(SIZE);
        DfuseDevice d = {0};
        DfuseStats stats;
        DfuError error = DFU_ERROR_INIT;

        for (size_t i = 0; i < SIZE; i++)
                data[i] = (uint8_t)(i * 7 + (i >> 11));
        inproc_open(&d, &o);

        /* the flash starts erased: writes alone, no verify (the model's flash is read back below) */
        PlanRun run = {.address = base, .size = SIZE, .data = data};
        Plan plan = {.transfer_size = TS,
                     .flash_word = 32,
                     .runs = &run,
                     .n_runs = 1,
                     .bytes_total = SIZE,
                     .blocks_total = SIZE / TS};
        int r = dfuse_execute(&d, &plan, NULL, NULL, NULL, &stats, &error);
        g_assert_cmpstr(error.code ? error.message : "", ==, "");
        g_assert_cmpint(r, ==, 0);

        g_assert_cmpuint(bus.set_addresses->len, ==, 2);
        g_assert_cmphex(g_array_index(bus.set_addresses, uint32_t, 0), ==, base);
        g_assert_cmphex(g_array_index(bus.set_addresses, uint32_t, 1), ==, base + WINDOW * TS);
        /* blocks 2 .. 65,534: 65,535 is never used */
        g_assert_cmpuint(bus.max_block, ==, WINDOW + 1);
        g_assert_cmpuint(bus.blocks, ==, SIZE / TS);
        g_assert_cmpuint(stats.set_addresses, ==, 2);
        g_assert_cmpuint(stats.bytes_written, ==, SIZE);
        g_assert_cmpuint(sim_board_counters(bus.board)->blocks_written, ==, SIZE / TS);
        g_assert_cmpint(sim_board_read_flash(bus.board, base, back, SIZE), ==, 0);
        g_assert_cmpmem(back, SIZE, data, SIZE);

        inproc_close();
}

/*
 * The read-protection probe reads the start of the flash its map names, 0x08000000 without a usable
 * map: a protected board's refusal is the answer READ, an unprotected one's bytes NONE.
 */
static void test_probe_protection(void) {
        static const struct {
                bool protected, with_map;
                uint32_t address;
                DfuseProtection want;
        } cases[] = {
                {false, false, 0x08000000, DFUSE_PROTECTION_NONE},
                {true, false, 0x08000000, DFUSE_PROTECTION_READ},
                {false, true, 0x08004000, DFUSE_PROTECTION_NONE},
        };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                SimBoardOptions o = {.part = part_find("f405"), .read_protected = cases[i].protected};
                _cleanup_(memmap_freep) MemMap *map = memmap_new();
                DfuseProtection p = DFUSE_PROTECTION_UNKNOWN;
                DfuError error = DFU_ERROR_INIT;
                DfuseDevice d;

                inproc_open(&d, &o);
                if (cases[i].with_map) {
                        g_assert_cmpint(memmap_add(map, "@Internal Flash  /0x08004000/03*016Kg", &error), ==,
                                        0);
                        d.info.map = map;
                }
                g_assert_cmpint(dfuse_probe_protection(&d, NULL, &p, &error), ==, 0);
                g_assert_cmpint(p, ==, cases[i].want);
                g_assert_cmpuint(bus.set_addresses->len, ==, 1);
                g_assert_cmphex(g_array_index(bus.set_addresses, uint32_t, 0), ==, cases[i].address);
                d.info.map = NULL;
                inproc_close();
        }
}

/* Flashes 2 KiB at the flash base of a board of o with the faults armed; the board stays open. */
static int flash_with_faults(DfuseDevice *d, const SimBoardOptions *o, const SimFaultSpec *faults, size_t n,
                             DfuError *error) {
        uint8_t data[2048];

        memset(data, 0xA5, sizeof(data));
        inproc_open(d, o);
        for (size_t i = 0; i < n; i++)
                g_assert_cmpint(sim_board_inject(bus.board, &faults[i]), ==, 0);
        _cleanup_(plan_freep) Plan *plan =
                plan_for(o->part, 0x08000000, data, sizeof(data), &(PlanOptions){});
        return dfuse_execute(d, plan, NULL, NULL, NULL, NULL, error);
}

/* After a refused block the engine clears the error: the board waits in dfuIDLE for the next job. */
static void test_failed_block_clears(void) {
        SimBoardOptions o = {.part = part_find("g431"), .time_scale = 1.0};
        SimFaultSpec f = {.fault = SIM_FAULT_STATUS, .phase = SIM_PHASE_WRITE, .after = 1, .status = 6};
        DfuError error = DFU_ERROR_INIT;
        DfuseStats stats = {0};
        DfuseDevice d;
        DfuStatus st;

        g_assert_cmpint(flash_with_faults(&d, &o, &f, 1, &error), ==, -EIO);
        g_assert_nonnull(strstr(error.message, "errPROG in state dfuERROR"));
        d.stats = &stats; /* the engine's pointed into the finished call */
        g_assert_cmpint(dfu_get_status(&d, &st, 0), ==, 0);
        g_assert_cmpint(st.state, ==, DFU_STATE_IDLE);
        g_assert_cmpint(st.status, ==, 0);
        inproc_close();
}

/* A read-protected board stalls the first download; the status it then gives is the reason. */
static void test_protected_write(void) {
        SimBoardOptions o = {.part = part_find("g431"), .time_scale = 1.0, .read_protected = true};
        DfuError error = DFU_ERROR_INIT;
        DfuseDevice d;

        g_assert_cmpint(flash_with_faults(&d, &o, NULL, 0, &error), ==, -EACCES);
        g_assert_nonnull(strstr(error.message, "device reports errVENDOR"));
        g_assert_nonnull(strstr(error.message, "read-out protection is active"));
        inproc_close();
}

/* A board that leaves during a read is gone, not refusing: no status is read from it. */
static void test_read_unplugged(void) {
        SimBoardOptions o = {.part = part_find("g431"), .time_scale = 1.0};
        SimFaultSpec f = {.fault = SIM_FAULT_UNPLUG, .phase = SIM_PHASE_READ, .after = 1};
        uint8_t buf[4096];
        DfuseDevice d;
        DfuError error = DFU_ERROR_INIT;

        inproc_open(&d, &o);
        g_assert_cmpint(sim_board_inject(bus.board, &f), ==, 0);
        g_assert_cmpint(dfuse_read(&d, 0, 0x08000000, buf, sizeof(buf), NULL, &error), ==, -ENODEV);
        g_assert_null(strstr(error.message, "device reports"));
        inproc_close();
}

/* A read goes back to dfuIDLE through ABORT after its set-address; an ABORT the board refuses ends the
 * read there (the 5th request: to-idle GETSTATUS, set-address DNLOAD, two polls, ABORT). */
static void test_read_abort_refused(void) {
        SimBoardOptions o = {.part = part_find("g431"), .time_scale = 1.0};
        SimFaultSpec f = {.fault = SIM_FAULT_STALL, .phase = SIM_PHASE_ANY, .after = 4, .count = 1};
        uint8_t buf[4096];
        DfuseDevice d;
        DfuError error = DFU_ERROR_INIT;

        inproc_open(&d, &o);
        g_assert_cmpint(sim_board_inject(bus.board, &f), ==, 0);
        g_assert_cmpint(dfuse_read(&d, 0, 0x08000000, buf, sizeof(buf), NULL, &error), ==, -EPIPE);
        g_assert_nonnull(strstr(error.message,
                                "the board stalled the request (phase read, last state dfuDNLOAD-IDLE)"));
        g_assert_cmpuint(sim_board_counters(bus.board)->upload, ==, 0);
        /* nothing after the ABORT */
        g_assert_cmpuint(sim_board_counters(bus.board)->requests, ==, 5);
        inproc_close();
}

/* A download the board refuses with a stall leaves the reason in the status: the error names it. */
static void test_stalled_block_status(void) {
        SimBoardOptions o = {.part = part_find("g431"), .time_scale = 1.0};
        const SimFaultSpec faults[] = {
                {.fault = SIM_FAULT_STALL, .phase = SIM_PHASE_WRITE, .after = 3, .count = 1},
                {.fault = SIM_FAULT_STATUS, .phase = SIM_PHASE_WRITE, .after = 3, .status = 6},
        };
        DfuError error = DFU_ERROR_INIT;
        DfuseDevice d;

        g_assert_cmpint(flash_with_faults(&d, &o, faults, G_N_ELEMENTS(faults), &error), ==, -EIO);
        g_assert_cmpstr(error.message, ==,
                        "write of block at 0x08000400 failed: device reports errPROG in state dfuERROR");
        inproc_close();
}

/* A read cancelled between two blocks stops there: no block after it is asked for. */
static void test_read_cancelled(void) {
        SimBoardOptions o = {.part = part_find("g431"), .time_scale = 1.0};
        atomic_bool cancel = false;
        uint8_t buf[8192];
        DfuseDevice d;
        DfuError error = DFU_ERROR_INIT;

        inproc_open(&d, &o);
        bus.cancel_after_uploads = &cancel;
        bus.cancel_uploads = 2;
        g_assert_cmpint(dfuse_read(&d, 0, 0x08000000, buf, sizeof(buf), &cancel, &error), ==, -ECANCELED);
        g_assert_cmpuint(bus.uploads, ==, 2);
        inproc_close();
}

int main(int argc, char **argv) {
        /* the engine's zero-length sleeps between polls then cost microseconds, not the default 50 */
        (void)prctl(PR_SET_TIMERSLACK, 1UL);
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/engine/inproc/real-window", test_real_window);
        g_test_add_func("/engine/inproc/skip-identical-middle", test_skip_identical_middle);
        g_test_add_func("/engine/inproc/failed-block", test_failed_block);
        g_test_add_func("/engine/inproc/no-plan", test_no_plan);
        g_test_add_func("/engine/inproc/probe-protection", test_probe_protection);
        g_test_add_func("/engine/inproc/failed-block-clears", test_failed_block_clears);
        g_test_add_func("/engine/inproc/protected-write", test_protected_write);
        g_test_add_func("/engine/inproc/read-unplugged", test_read_unplugged);
        g_test_add_func("/engine/inproc/read-abort-refused", test_read_abort_refused);
        g_test_add_func("/engine/inproc/stalled-block-status", test_stalled_block_status);
        g_test_add_func("/engine/inproc/read-cancelled", test_read_cancelled);
        return test_run();
}
