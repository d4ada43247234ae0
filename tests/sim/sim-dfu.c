/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "sim-private.h"

/*
 * The DFU 1.1 state machine with ST's DfuSe extensions (AN3156). A DNLOAD only records the command or
 * block; the first GETSTATUS after it starts the operation and answers dfuDNBUSY with bwPollTimeout;
 * the bootloader then runs the operation with USB NAKed, so whatever arrives before the end waits for
 * it; the next GETSTATUS tells the outcome (dfuDNLOAD-IDLE or dfuERROR + status).
 */

#define STUCK_THRESHOLD     (1024u * 1024u) /* H743 rev V: sectors of the second bank */
#define POLL_STALLS_MAX     3
#define LYING_MASS_ERASE_MS 100

void sim_dfu_power_on(SimBoard *b) {
        bool error = b->quirks & PART_QUIRK_ARRIVES_IN_ERROR;

        b->state = error ? SIM_STATE_ERROR : SIM_STATE_IDLE;
        b->status = error ? SIM_STATUS_ERR_FIRMWARE : SIM_STATUS_OK;
        b->alt = 0;
        b->pointer = b->flash_base;
        b->op = SIM_OP_NONE;
        b->op_stuck = false;
        b->stuck_clears = 0;
        b->early_polls = 0;
}

/* A request the current state does not allow: DFU 1.1 stalls it and enters dfuERROR. */
static SimResult stall(SimBoard *b, uint8_t status) {
        if (b->state != SIM_STATE_ERROR) {
                b->state = SIM_STATE_ERROR;
                b->status = status;
        }
        b->op = SIM_OP_NONE;
        return SIM_STALL;
}

static uint32_t le32(const uint8_t *p) {
        return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static SimResult dnload_command(SimBoard *b, const uint8_t *data, size_t len) {
        switch (data[0]) {
        case DFUSE_SET_ADDRESS:
                if (len != 5)
                        return stall(b, SIM_STATUS_ERR_STALLEDPKT);
                b->op = SIM_OP_SET_ADDRESS;
                b->op_address = le32(data + 1);
                break;
        case DFUSE_ERASE:
                if (len != 1 && len != 5)
                        return stall(b, SIM_STATUS_ERR_STALLEDPKT);
                b->op = len == 1 ? SIM_OP_MASS_ERASE : SIM_OP_ERASE;
                b->op_address = len == 5 ? le32(data + 1) : 0;
                break;
        case DFUSE_READ_UNPROTECT:
                if (len != 1)
                        return stall(b, SIM_STATUS_ERR_STALLEDPKT);
                b->op = SIM_OP_UNPROTECT;
                break;
        default:
                return stall(b, SIM_STATUS_ERR_STALLEDPKT);
        }
        b->state = SIM_STATE_DNLOAD_SYNC;
        return SIM_OK;
}

static SimResult dnload(SimBoard *b, const SimSetup *s, const uint8_t *data) {
        if (b->state != SIM_STATE_IDLE && b->state != SIM_STATE_DNLOAD_IDLE)
                return stall(b, SIM_STATUS_ERR_STALLEDPKT);
        b->counters.dnload++;

        if (s->wLength == 0) { /* leave: jump to the address pointer at the next GETSTATUS */
                b->state = SIM_STATE_MANIFEST_SYNC;
                return SIM_OK;
        }
        if (s->wValue == 1 || s->wLength > b->part->transfer_size)
                return stall(b, SIM_STATUS_ERR_STALLEDPKT);
        if (s->wValue == 0)
                return dnload_command(b, data, s->wLength);

        b->op = SIM_OP_WRITE;
        b->op_address = b->pointer + (uint32_t)(s->wValue - 2) * b->part->transfer_size;
        memcpy(b->op_data, data, s->wLength);
        b->op_len = s->wLength;
        b->state = SIM_STATE_DNLOAD_SYNC;
        return SIM_OK;
}

static SimResult upload(SimBoard *b, const SimSetup *s, uint8_t *data, size_t *len) {
        static const uint8_t commands[] = {DFUSE_GET_COMMANDS, DFUSE_SET_ADDRESS, DFUSE_ERASE,
                                           DFUSE_READ_UNPROTECT};
        int r;

        if (b->state != SIM_STATE_IDLE && b->state != SIM_STATE_UPLOAD_IDLE)
                return stall(b, SIM_STATUS_ERR_STALLEDPKT);
        if (s->wLength == 0 || s->wValue == 1 || s->wLength > b->part->transfer_size)
                return stall(b, SIM_STATUS_ERR_STALLEDPKT);
        b->counters.upload++;

        if (s->wValue == 0) {
                *len = MIN(sizeof(commands), (size_t)s->wLength);
                memcpy(data, commands, *len);
        } else {
                if (b->read_protected)
                        return stall(b, SIM_STATUS_ERR_VENDOR);
                uint32_t address = b->pointer + (uint32_t)(s->wValue - 2) * b->part->transfer_size;
                r = sim_mem_read(b, address, data, s->wLength);
                if (r < 0)
                        return stall(b, SIM_STATUS_ERR_TARGET);
                *len = (size_t)r;
                b->counters.bytes_read += *len;
        }
        /* A short frame ends the upload. */
        b->state = *len < s->wLength ? SIM_STATE_IDLE : SIM_STATE_UPLOAD_IDLE;
        return SIM_OK;
}

static void run_erase(SimBoard *b, uint64_t *op_us) {
        const SimSector *sector = NULL;

        b->counters.erase++;
        b->poll_ms = b->part->erase_poll_timeout_ms;
        if (b->read_protected) {
                b->op_status = SIM_STATUS_ERR_VENDOR;
                return;
        }
        b->op_status = sim_mem_erase_sector(b, b->op_address, &sector);
        if (b->op_status != SIM_STATUS_OK)
                return;
        *op_us = (uint64_t)part_sector_erase_ms(b->part, sector->size) * 1000;
        b->op_stuck =
                (b->quirks & PART_QUIRK_STUCK_DNBUSY) && sector->address - b->flash_base >= STUCK_THRESHOLD;
        b->stuck_clears = 0;
}

static void run_mass_erase(SimBoard *b, uint64_t *op_us) {
        bool lies = b->quirks & PART_QUIRK_MASS_ERASE_LIES;

        b->poll_ms = lies ? LYING_MASS_ERASE_MS : part_mass_erase_ms(b->part);
        if (b->op == SIM_OP_UNPROTECT) {
                /* Unprotecting wipes flash and relaunches the bootloader; it never answers again. */
                b->read_protected = false;
                sim_mem_set_rdp_level0(b);
                b->op_reset = true;
        } else if (b->read_protected) {
                b->op_status = SIM_STATUS_ERR_VENDOR;
                return;
        }
        b->counters.mass_erase++;
        sim_mem_mass_erase(b);
        *op_us = (uint64_t)part_mass_erase_ms(b->part) * 1000;
}

static void run_write(SimBoard *b, uint64_t *op_us) {
        SimMemKind kind = sim_mem_classify(b, b->op_address, (uint32_t)b->op_len, NULL);

        b->poll_ms = b->part->poll_timeout_ms;
        if (b->read_protected) {
                b->op_status = SIM_STATUS_ERR_VENDOR;
                return;
        }
        b->op_status = sim_mem_write(b, b->op_address, b->op_data, b->op_len, &b->op_reset);
        if (b->op_status != SIM_STATUS_OK)
                return;
        b->counters.blocks_written++;
        b->counters.bytes_written += b->op_len;
        if (kind == SIM_MEM_FLASH)
                *op_us = part_program_us(b->part, (uint32_t)b->op_len);
}

/* Runs the recorded command; returns its duration at datasheet speed. */
static uint64_t run_op(SimBoard *b) {
        uint64_t op_us = 0;

        b->op_status = SIM_STATUS_OK;
        b->op_reset = false;
        b->op_stuck = false;
        switch (b->op) {
        case SIM_OP_SET_ADDRESS:
                b->counters.set_address++;
                b->poll_ms = b->part->poll_timeout_ms;
                if (sim_mem_classify(b, b->op_address, 1, NULL) == SIM_MEM_NONE)
                        b->op_status = SIM_STATUS_ERR_TARGET;
                else
                        b->pointer = b->op_address;
                break;
        case SIM_OP_ERASE:
                run_erase(b, &op_us);
                break;
        case SIM_OP_MASS_ERASE:
        case SIM_OP_UNPROTECT:
                run_mass_erase(b, &op_us);
                break;
        case SIM_OP_WRITE:
                run_write(b, &op_us);
                break;
        case SIM_OP_NONE:
        default:
                b->poll_ms = 0;
                break;
        }
        return op_us;
}

static void status_answer(SimBoard *b, uint8_t *data, size_t *len, uint8_t state, unsigned poll_ms) {
        data[0] = b->status;
        data[1] = poll_ms & 0xFF;
        data[2] = (poll_ms >> 8) & 0xFF;
        data[3] = (poll_ms >> 16) & 0xFF;
        data[4] = state;
        data[5] = 0;
        *len = 6;
        if (b->status != SIM_STATUS_OK)
                b->counters.errors++;
}

/* First GETSTATUS after a DNLOAD: the operation starts now (at t) and the answer is dfuDNBUSY. */
static SimResult start_op(SimBoard *b, uint64_t t, uint8_t *data, size_t *len, unsigned *events) {
        uint64_t op_us = sim_scaled_us(b, run_op(b)), wait_us;
        unsigned poll_ms = sim_scaled_poll_ms(b, b->poll_ms);

        b->poll_ms = poll_ms;
        b->busy_until = t + op_us;
        b->poll_deadline = t + (uint64_t)poll_ms * 1000;
        b->early_polls = 0;
        /*
         * A host must wait bwPollTimeout after work it asked for, even when the work is quicker. A set
         * address does no work: whether to send one is the host's choice, so its wait is host overhead.
         */
        wait_us = b->op == SIM_OP_SET_ADDRESS ? op_us : MAX(op_us, (uint64_t)poll_ms * 1000);
        b->counters.wait_us += wait_us;
        b->counters.device_min_us += wait_us;
        b->counters.op_us += op_us;
        b->state = SIM_STATE_DNBUSY;
        status_answer(b, data, len, SIM_STATE_DNBUSY, poll_ms);
        if (b->op_reset) {
                *events |= SIM_EVENT_RESET;
                sim_mem_power_cycle(b);
                sim_dfu_power_on(b);
        }
        return SIM_OK;
}

/*
 * L4: the polls after a DfuSe command (set address, erase, mass erase) stall while it runs; a block
 * write holds its early polls back like every other part. The bootloader asks for less time than a
 * page erase takes, so a host that waits just bwPollTimeout meets the stalls (dfu-util tolerates three
 * after these commands only).
 */
static bool poll_stalls(const SimBoard *b) {
        if (!(b->quirks & PART_QUIRK_POLL_STALLS))
                return false;
        return b->op == SIM_OP_SET_ADDRESS || b->op == SIM_OP_ERASE || b->op == SIM_OP_MASS_ERASE;
}

static SimResult busy_poll(SimBoard *b, uint64_t now, uint8_t *data, size_t *len, uint64_t *ready) {
        uint64_t deadline = MAX(b->busy_until, b->poll_deadline);

        if (b->held) {
                status_answer(b, data, len, SIM_STATE_DNBUSY, MAX(b->poll_ms, 1u));
                return SIM_OK;
        }
        if (poll_stalls(b) && now < deadline) {
                /*
                 * A poll before the command ends or bwPollTimeout elapses stalls, without an error;
                 * after three stalls in a row the next one is answered busy with the time left.
                 */
                *ready = now;
                if (b->early_polls < POLL_STALLS_MAX) {
                        b->early_polls++;
                        return SIM_STALL;
                }
                b->early_polls = 0;
                status_answer(b, data, len, SIM_STATE_DNBUSY,
                              (unsigned)DIV_ROUND_UP(deadline - now, (uint64_t)1000));
                return SIM_OK;
        }
        b->early_polls = 0;
        if (b->op_stuck) {
                status_answer(b, data, len, SIM_STATE_DNBUSY, b->poll_ms);
                return SIM_OK;
        }
        b->status = b->op_status;
        b->state = b->op_status == SIM_STATUS_OK ? SIM_STATE_DNLOAD_IDLE : SIM_STATE_ERROR;
        b->op = SIM_OP_NONE;
        status_answer(b, data, len, b->state, 0);
        return SIM_OK;
}

static SimResult getstatus(SimBoard *b, const SimSetup *s, uint64_t now, uint64_t t, uint8_t *data,
                           size_t *len, uint64_t *ready, unsigned *events) {
        if (s->wLength < 6)
                return stall(b, SIM_STATUS_ERR_STALLEDPKT);
        b->counters.getstatus++;

        if (b->status_fault) {
                b->status_fault = false;
                b->state = SIM_STATE_ERROR;
                b->status = b->status_fault_code;
                b->op = SIM_OP_NONE;
                b->op_stuck = false;
                status_answer(b, data, len, b->state, 0);
                return SIM_OK;
        }

        switch (b->state) {
        case SIM_STATE_DNLOAD_SYNC:
                return start_op(b, t, data, len, events);
        case SIM_STATE_DNBUSY:
                return busy_poll(b, now, data, len, ready);
        case SIM_STATE_MANIFEST_SYNC:
                b->counters.leave++;
                b->gone = true;
                *events |= SIM_EVENT_LEAVE;
                if (b->quirks & PART_QUIRK_RESET_ON_LEAVE)
                        return SIM_DISCONNECT;
                b->state = SIM_STATE_MANIFEST;
                status_answer(b, data, len, b->state, 0);
                return SIM_OK;
        default:
                status_answer(b, data, len, b->state, 0);
                return SIM_OK;
        }
}

static SimResult clrstatus(SimBoard *b) {
        b->counters.clrstatus++;
        if (b->state == SIM_STATE_DNBUSY && b->op_stuck) {
                /* H743 rev V: the second CLRSTATUS brings it back to dfuIDLE. */
                if (++b->stuck_clears < 2)
                        return SIM_OK;
                b->op_stuck = false;
        } else if (b->state != SIM_STATE_ERROR)
                return stall(b, SIM_STATUS_ERR_STALLEDPKT);
        b->state = SIM_STATE_IDLE;
        b->status = SIM_STATUS_OK;
        b->op = SIM_OP_NONE;
        return SIM_OK;
}

static SimResult abort_request(SimBoard *b) {
        b->counters.abort++;
        switch (b->state) {
        case SIM_STATE_IDLE:
        case SIM_STATE_DNLOAD_SYNC:
        case SIM_STATE_DNLOAD_IDLE:
        case SIM_STATE_MANIFEST_SYNC:
        case SIM_STATE_UPLOAD_IDLE:
                b->state = SIM_STATE_IDLE;
                b->op = SIM_OP_NONE;
                return SIM_OK;
        default:
                return stall(b, SIM_STATUS_ERR_STALLEDPKT);
        }
}

static bool direction_ok(const SimSetup *s) {
        bool in = s->bmRequestType & 0x80;

        switch (s->bRequest) {
        case DFU_UPLOAD:
        case DFU_GETSTATUS:
        case DFU_GETSTATE:
                return in;
        default:
                return !in;
        }
}

SimResult sim_dfu_request(SimBoard *b, const SimSetup *s, uint8_t *data, size_t *len, uint64_t now,
                          uint64_t *ready, unsigned *events) {
        uint64_t t = MAX(now, b->busy_until);

        *ready = t;
        *len = 0;
        if (s->wIndex != 0 || s->bRequest > DFU_ABORT || !direction_ok(s))
                return SIM_STALL;
        if (b->state == SIM_STATE_DNBUSY && s->bRequest != DFU_GETSTATUS && s->bRequest != DFU_CLRSTATUS)
                return stall(b, SIM_STATUS_ERR_STALLEDPKT);

        switch (s->bRequest) {
        case DFU_DNLOAD:
                *len = s->wLength;
                return dnload(b, s, data);
        case DFU_UPLOAD:
                return upload(b, s, data, len);
        case DFU_GETSTATUS:
                return getstatus(b, s, now, t, data, len, ready, events);
        case DFU_CLRSTATUS:
                return clrstatus(b);
        case DFU_GETSTATE:
                if (s->wLength < 1)
                        return stall(b, SIM_STATUS_ERR_STALLEDPKT);
                data[0] = b->state;
                *len = 1;
                return SIM_OK;
        case DFU_ABORT:
                return abort_request(b);
        case DFU_DETACH:
        default:
                /* DETACH is an application-mode request: in DFU mode it is out of place. */
                return stall(b, SIM_STATUS_ERR_STALLEDPKT);
        }
}
