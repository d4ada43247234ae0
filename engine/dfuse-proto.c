/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>

#include "dfuse-internal.h"

#define REQ_OUT (LIBUSB_ENDPOINT_OUT | LIBUSB_REQUEST_TYPE_CLASS | LIBUSB_RECIPIENT_INTERFACE)
#define REQ_IN  (LIBUSB_ENDPOINT_IN | LIBUSB_REQUEST_TYPE_CLASS | LIBUSB_RECIPIENT_INTERFACE)

/* dfu-util's limit for a board that keeps saying "busy, poll again now". */
#define MAX_ZERO_TIMEOUT_POLLS 100
/* No single command may keep a board busy longer, whatever it reports (a 128 KB F4 sector: 4 s). */
#define MAX_BUSY_US (UINT64_C(120) * 1000000)

int dfu_request_out(DfuseDevice *d, uint8_t request, uint16_t value, const uint8_t *data, uint16_t len) {
        d->stats->requests++;
        int r = libusb_control_transfer(d->handle, REQ_OUT, request, value, d->info.interface_number,
                                        (unsigned char *)data, len, d->quirks.timeout_ms);
        if (r < 0)
                return libusb_error_to_errno(r);
        switch (request) {
        case DFU_REQ_DNLOAD:
                d->last_state = DFU_STATE_DNLOAD_SYNC;
                break;
        case DFU_REQ_ABORT:
        case DFU_REQ_CLRSTATUS:
                d->last_state = DFU_STATE_IDLE;
                break;
        }
        return r;
}

int dfu_request_in(DfuseDevice *d, uint8_t request, uint16_t value, uint8_t *data, uint16_t len,
                   unsigned timeout_ms) {
        d->stats->requests++;
        int r = libusb_control_transfer(d->handle, REQ_IN, request, value, d->info.interface_number, data,
                                        len, timeout_ms ?: d->quirks.timeout_ms);
        if (r < 0)
                return libusb_error_to_errno(r);
        if (request == DFU_REQ_UPLOAD)
                d->last_state = DFU_STATE_UPLOAD_IDLE;
        return r;
}

int dfu_get_status(DfuseDevice *d, DfuStatus *ret, unsigned timeout_ms) {
        uint8_t buf[6];
        int r;

        d->stats->polls++;
        r = dfu_request_in(d, DFU_REQ_GETSTATUS, 0, buf, sizeof(buf), timeout_ms);
        if (r < 0)
                return r;
        r = dfu_status_decode(buf, (size_t)r, ret);
        if (r < 0)
                return r;
        d->last_state = ret->state;
        return 0;
}

bool dfuse_cancelled(const DfuseDevice *d) {
        return d->cancel && atomic_load(d->cancel);
}

void sleep_until_us(uint64_t deadline) {
        struct timespec ts = {
                .tv_sec = (time_t)(deadline / 1000000u),
                .tv_nsec = (long)(deadline % 1000000u) * 1000,
        };
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
                ;
}

static void op_describe(const DfuseOp *op, char *buf, size_t size) {
        if (op->mass_erase || op->no_address)
                (void)snprintf(buf, size, "%s", op->what);
        else
                (void)snprintf(buf, size, "%s 0x%08X", op->what, op->address);
}

int dfuse_fail(DfuseDevice *d, int r, const DfuseOp *op, const DfuStatus *st, DfuError *error) {
        char what[96];

        d->pointer_valid = false;
        op_describe(op, what, sizeof(what));
        if (st) {
                bool vendor = st->status == DFU_STATUS_ERR_VENDOR;
                dfu_error_set(
                        error, vendor ? EACCES : EIO, "%s failed: device reports %s in state %s%s", what,
                        dfu_status_to_string(st->status), dfu_state_to_string(st->state),
                        vendor ? " (read-out protection is active: only a read-unprotect, which erases "
                                 "the whole flash, lifts it)"
                               : "");
                /* Leave the board ready for the next job; its answer changes nothing here. */
                if (st->state == DFU_STATE_ERROR)
                        (void)dfu_request_out(d, DFU_REQ_CLRSTATUS, 0, NULL, 0);
                return -error->code;
        }
        switch (r) {
        case -ENODEV:
                return dfu_error_set(error, ENODEV,
                                     "%s failed: the board disconnected (phase %s, last state %s)", what,
                                     dfuse_phase_to_string(op->phase), dfu_state_to_string(d->last_state));
        case -ETIMEDOUT:
                return dfu_error_set(
                        error, ETIMEDOUT,
                        "%s failed: the board did not answer within %u ms (phase %s, last state %s)", what,
                        d->quirks.timeout_ms, dfuse_phase_to_string(op->phase),
                        dfu_state_to_string(d->last_state));
        case -EPIPE:
                return dfu_error_set(
                        error, EPIPE, "%s failed: the board stalled the request (phase %s, last state %s)",
                        what, dfuse_phase_to_string(op->phase), dfu_state_to_string(d->last_state));
        default:
                return dfu_error_set(error, r, "%s failed: %s (phase %s, last state %s)", what, strerror(-r),
                                     dfuse_phase_to_string(op->phase), dfu_state_to_string(d->last_state));
        }
}

/* H743 rev V: the command is done but the state machine stays busy; two CLRSTATUS release it. */
int dfuse_clear_stuck(DfuseDevice *d, const DfuseOp *op, DfuError *error) {
        d->pointer_valid = false;
        for (unsigned i = 0; i < 2; i++) {
                int r = dfu_request_out(d, DFU_REQ_CLRSTATUS, 0, NULL, 0);
                if (r < 0 && r != -EPIPE)
                        return dfuse_fail(d, r, op, NULL, error);
        }
        return 0;
}

static int release_stuck(DfuseDevice *d, const DfuseOp *op, DfuError *error) {
        DfuStatus st;
        int r;

        r = dfuse_clear_stuck(d, op, error);
        if (r < 0)
                return r;
        r = dfu_get_status(d, &st, 0);
        if (r < 0)
                return dfuse_fail(d, r, op, NULL, error);
        if (st.state != DFU_STATE_IDLE || st.status != 0)
                return dfuse_fail(d, -EIO, op, &st, error);
        d->stats->stuck_released++;
        return 0;
}

/* Whether a "busy, ask again later" answer is tolerated, given the quirks and what happened so far. */
typedef struct PollState {
        uint64_t start_us;
        uint32_t wait_ms; /* last bwPollTimeout */
        uint32_t first_wait_ms;
        unsigned busy, stalls, zero_waits;
        bool lying_mass_erase;
} PollState;

static bool tolerate_error(DfuseDevice *d, PollState *ps, int r, uint64_t t) {
        /* F405 mass erase: the board keeps the answer back for the whole erase, longer than a timeout. */
        if (ps->lying_mass_erase && (r == -ETIMEDOUT || r == -EPIPE) &&
            t - ps->start_us < (uint64_t)d->quirks.mass_erase_ms * 1000)
                return true;
        /*
         * L4: polls after a command (erase, set address) stall while it runs; a few in a row mean
         * "busy", more mean trouble. Taken after a block write too: a retried poll costs nothing there.
         */
        if (r == -EPIPE && ps->stalls < d->quirks.poll_stalls) {
                ps->stalls++;
                d->stats->stalls_tolerated++;
                return true;
        }
        return false;
}

/*
 * Polls after a DNLOAD until the board is done. The first GETSTATUS goes out at once: it is what starts
 * the operation on a DfuSe board. Later ones wait exactly the bwPollTimeout of the previous answer,
 * counted from its arrival; a board that is still busy simply answers late, which costs no request.
 * Cancellation waits for the end of a started command: dfuDNBUSY refuses ABORT.
 */
static int poll_until_done(DfuseDevice *d, const DfuseOp *op, DfuError *error) {
        PollState ps = {.start_us = now_us(),
                        .lying_mass_erase = op->mass_erase && d->quirks.mass_erase_ms > 0};
        unsigned timeout_ms = ps.lying_mass_erase ? MAX(d->quirks.timeout_ms, d->quirks.mass_erase_ms) : 0;
        DfuStatus st;

        for (;;) {
                int r = dfu_get_status(d, &st, timeout_ms);
                uint64_t t = now_us();

                if (r < 0) {
                        if (!tolerate_error(d, &ps, r, t))
                                return dfuse_fail(d, r, op, NULL, error);
                        sleep_until_us(t + (uint64_t)MAX(ps.wait_ms, 1u) * 1000);
                        continue;
                }
                if (st.status != 0 || st.state == DFU_STATE_ERROR)
                        return dfuse_fail(d, -EIO, op, &st, error);
                if (st.state == DFU_STATE_DNLOAD_IDLE || st.state == DFU_STATE_IDLE)
                        return 0;
                if (st.state != DFU_STATE_DNBUSY && st.state != DFU_STATE_DNLOAD_SYNC)
                        return dfuse_fail(d, -EPROTO, op, &st, error);

                ps.stalls = 0;
                if (ps.busy++ == 0)
                        ps.first_wait_ms = st.poll_timeout_ms;
                else if (d->quirks.double_clrstatus && t - ps.start_us >= (uint64_t)ps.first_wait_ms * 1000)
                        /* Still busy after the whole asked wait, with the answer held back to the end. */
                        return release_stuck(d, op, error);
                if (st.poll_timeout_ms == 0 && ++ps.zero_waits > MAX_ZERO_TIMEOUT_POLLS)
                        return dfuse_fail(d, -ETIMEDOUT, op, &st, error);
                if (t - ps.start_us > MAX_BUSY_US + (uint64_t)d->quirks.mass_erase_ms * 1000)
                        return dfuse_fail(d, -ETIMEDOUT, op, &st, error);
                ps.wait_ms = st.poll_timeout_ms;
                sleep_until_us(t + (uint64_t)st.poll_timeout_ms * 1000);
        }
}

int dfuse_dnload_wait(DfuseDevice *d, uint16_t block, const uint8_t *data, uint16_t len, const DfuseOp *op,
                      DfuError *error) {
        int r;

        d->last_op = *op;
        r = dfu_request_out(d, DFU_REQ_DNLOAD, block, data, len);
        if (r < 0) {
                DfuStatus st;
                /* A refused download leaves the reason in the status. */
                if (r == -EPIPE && dfu_get_status(d, &st, 0) >= 0 &&
                    (st.status != 0 || st.state == DFU_STATE_ERROR))
                        return dfuse_fail(d, r, op, &st, error);
                return dfuse_fail(d, r, op, NULL, error);
        }
        if (r != len)
                return dfuse_fail(d, -EIO, op, NULL, error);
        return poll_until_done(d, op, error);
}

int dfuse_abort(DfuseDevice *d, const DfuseOp *op, DfuError *error) {
        int r = dfu_request_out(d, DFU_REQ_ABORT, 0, NULL, 0);
        if (r < 0)
                return dfuse_fail(d, r, op, NULL, error);
        return 0;
}

/* DNLOAD is refused outside dfuIDLE/dfuDNLOAD-IDLE: after uploads, go back through ABORT. */
int dfuse_ready_for_dnload(DfuseDevice *d, const DfuseOp *op, DfuError *error) {
        if (d->last_state == DFU_STATE_IDLE || d->last_state == DFU_STATE_DNLOAD_IDLE)
                return 0;
        return dfuse_abort(d, op, error);
}

static int command(DfuseDevice *d, uint8_t cmd, bool with_address, uint32_t address, const DfuseOp *op,
                   DfuError *error) {
        uint8_t buf[5] = {cmd, address & 0xff, (address >> 8) & 0xff, (address >> 16) & 0xff, address >> 24};
        int r = dfuse_ready_for_dnload(d, op, error);
        if (r < 0)
                return r;
        return dfuse_dnload_wait(d, 0, buf, with_address ? 5 : 1, op, error);
}

/*
 * Blocks and uploads address relative to the pointer without moving it, so a pointer this job set is
 * still valid for the verify read of the same run and for the leave: each skipped set-address saves a
 * DNLOAD, two polls and the bootloader's bwPollTimeout (10 ms on H7).
 */
int dfuse_set_address(DfuseDevice *d, uint32_t address, const DfuseOp *op, DfuError *error) {
        static const char *const what[_DFUSE_PHASE_MAX] = {
                [DFUSE_PHASE_READ] = "setting the read address to",
                [DFUSE_PHASE_WRITE] = "setting the write address to",
                [DFUSE_PHASE_VERIFY] = "setting the verify address to",
                [DFUSE_PHASE_LEAVE] = "setting the leave address to",
        };
        DfuseOp o = {.phase = op->phase,
                     .what = (unsigned)op->phase < _DFUSE_PHASE_MAX && what[op->phase]
                                     ? what[op->phase]
                                     : "setting the address pointer to",
                     .address = address};
        int r;

        if (d->pointer_valid && d->pointer == address)
                return 0;
        d->pointer_valid = false;
        d->stats->set_addresses++;
        r = command(d, DFUSE_CMD_SET_ADDRESS, true, address, &o, error);
        if (r < 0)
                return r;
        d->pointer = address;
        d->pointer_valid = true;
        return 0;
}

/* AN3156 does not say whether an erase leaves the pointer alone: assume it does not. */
int dfuse_erase_sector(DfuseDevice *d, uint32_t address, DfuError *error) {
        DfuseOp op = {.phase = DFUSE_PHASE_ERASE, .what = "erase of sector", .address = address};
        d->pointer_valid = false;
        return command(d, DFUSE_CMD_ERASE, true, address, &op, error);
}

int dfuse_mass_erase(DfuseDevice *d, DfuError *error) {
        DfuseOp op = {.phase = DFUSE_PHASE_ERASE, .what = "mass erase", .mass_erase = true};
        d->pointer_valid = false;
        return command(d, DFUSE_CMD_ERASE, false, 0, &op, error);
}

int dfuse_select_alt(DfuseDevice *d, unsigned alt, DfuError *error) {
        if (alt >= d->info.n_alt)
                return dfu_error_set(error, EINVAL, "the board has no alternate setting %u (it has %u)", alt,
                                     d->info.n_alt);
        if (d->alt_current == (int)alt)
                return 0;
        d->stats->requests++;
        int r = libusb_set_interface_alt_setting(d->handle, d->info.interface_number, (int)alt);
        if (r < 0) {
                DfuseOp op = {
                        .phase = DFUSE_PHASE_CONNECT, .what = "selecting alternate setting", .address = alt};
                return dfuse_fail(d, libusb_error_to_errno(r), &op, NULL, error);
        }
        d->alt_current = (int)alt;
        return 0;
}
