/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sim-private.h"

#define SIM_ALT_MAX 32

uint64_t sim_scaled_us(const SimBoard *b, uint64_t us) {
        return (uint64_t)((double)us * b->time_scale + 0.5);
}

/* The part's bwPollTimeout at the board's speed: never 0 unless the part itself reports 0. */
unsigned sim_scaled_poll_ms(const SimBoard *b, unsigned ms) {
        if (ms == 0)
                return 0;
        double scaled = ms * b->time_scale + 0.5;
        return scaled < 1.0 ? 1 : scaled > 0xFFFFFF ? 0xFFFFFF : (unsigned)scaled;
}

uint64_t sim_usb_transfer_us(size_t data_len) {
        uint64_t transactions = 2 + DIV_ROUND_UP((uint64_t)data_len, 64);
        uint64_t bits = transactions * 105 + DIV_ROUND_UP((8 + (uint64_t)data_len) * 8 * 7, 6);

        return DIV_ROUND_UP(bits, 12);
}

SimBoard *sim_board_new(const SimBoardOptions *opts) {
        SimBoard *b;

        if (!opts || !opts->part || !opts->part->alt_strings || opts->part->transfer_size == 0)
                return NULL;
        b = calloc(1, sizeof(SimBoard));
        if (!b)
                return NULL;

        b->part = opts->part;
        b->quirks = (opts->part->quirks | opts->quirks) & ~opts->quirks_off;
        b->time_scale = opts->time_scale > 0 ? opts->time_scale : 1.0;
        memcpy(b->unique_id, opts->unique_id, sizeof(b->unique_id));
        sim_desc_serial(opts, b->serial);
        while (b->n_alt < SIM_ALT_MAX && b->part->alt_strings[b->n_alt])
                b->n_alt++;
        b->read_protected = opts->read_protected;
        b->write_protected = opts->write_protected;

        b->op_data = malloc(b->part->transfer_size);
        if (b->n_alt == 0 || !b->op_data || sim_mem_init(b) < 0)
                return sim_board_free(b);
        sim_dfu_power_on(b);
        return b;
}

SimBoard *sim_board_free(SimBoard *b) {
        if (!b)
                return NULL;
        sim_mem_done(b);
        free(b->op_data);
        return mfree(b);
}

void sim_board_reset(SimBoard *b) {
        /* Power gone: a running operation stops there (its effect on memory is already done). */
        b->busy_until = 0;
        b->gone = false;
        b->phase = SIM_PHASE_ANY;
        b->stall_left = b->silent_left = 0;
        b->status_fault = false;
        sim_mem_power_cycle(b);
        sim_dfu_power_on(b);
}

const PartInfo *sim_board_part(const SimBoard *b) {
        return b->part;
}

unsigned sim_board_quirks(const SimBoard *b) {
        return b->quirks;
}

uint8_t sim_board_state(const SimBoard *b) {
        return b->state;
}

uint8_t sim_board_status(const SimBoard *b) {
        return b->status;
}

bool sim_board_gone(const SimBoard *b) {
        return b->gone;
}

const SimCounters *sim_board_counters(const SimBoard *b) {
        return &b->counters;
}

uint32_t sim_board_flash_base(const SimBoard *b) {
        return b->flash_base;
}

uint32_t sim_board_flash_size(const SimBoard *b) {
        return b->flash_size;
}

int sim_board_read_flash(const SimBoard *b, uint32_t address, uint8_t *buf, size_t size) {
        while (size > 0) {
                int n = sim_mem_read(b, address, buf, size);
                if (n <= 0)
                        return -EFAULT;
                address += (uint32_t)n;
                buf += n;
                size -= (size_t)n;
        }
        return 0;
}

int sim_board_write_flash(SimBoard *b, uint32_t address, const uint8_t *buf, size_t size) {
        if (size == 0)
                return 0;
        if (size > UINT32_MAX || sim_mem_classify(b, address, (uint32_t)size, NULL) != SIM_MEM_FLASH)
                return -EFAULT;

        uint32_t off = address - b->flash_base;
        memcpy(b->flash + off, buf, size);
        if (b->programmed) {
                unsigned w = b->part->ecc_word;
                memset(b->programmed + off / w, 1, (off + size - 1) / w - off / w + 1);
        }
        return 0;
}

static SimResult dispatch(SimBoard *b, const SimSetup *s, uint8_t *data, size_t *len, uint64_t now,
                          uint64_t *ready, unsigned *events) {
        switch (s->bmRequestType & 0x7F) {
        case 0x00: /* standard, to the device */
        case 0x01: /* standard, to the interface */
                *ready = MAX(now, b->busy_until);
                return sim_desc_standard(b, s, data, len);
        case 0x21: /* class, to the interface */
                return sim_dfu_request(b, s, data, len, now, ready, events);
        default:
                return SIM_STALL;
        }
}

SimResult sim_board_control(SimBoard *b, const SimSetup *setup, uint8_t *data, size_t *len, uint64_t now_us,
                            uint64_t *ready_us, unsigned *events) {
        SimPhase phase;
        SimResult r;

        *len = 0;
        *events = 0;
        *ready_us = now_us;
        if (b->gone)
                return SIM_DISCONNECT;
        if (!data && setup->wLength > 0)
                return SIM_STALL;
        b->counters.requests++;

        phase = sim_fault_phase(setup, data);
        if (phase != SIM_PHASE_ANY)
                b->phase = phase;
        r = sim_fault_check(b, b->phase,
                            (setup->bmRequestType & 0x60) == 0x20 && setup->bRequest == DFU_GETSTATUS);
        if (r == SIM_OK)
                r = dispatch(b, setup, data, len, now_us, ready_us, events);

        if (r == SIM_STALL) {
                b->counters.stalls++;
                *len = 0;
        }
        if (r == SIM_OK || r == SIM_STALL) {
                uint64_t bus = sim_usb_transfer_us(setup->bmRequestType & 0x80 ? *len : setup->wLength);
                b->counters.bus_us += bus;
                b->counters.device_min_us += bus;
        }
        return r;
}
