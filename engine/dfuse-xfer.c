/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>

#include "dfuse-internal.h"

/* At most this many clean-up requests before a board that will not settle is given up. */
#define MAX_SETTLE_STEPS 6

static int settle_step(DfuseDevice *d, const DfuStatus *st, const DfuseOp *op, DfuError *error) {
        switch (st->state) {
        case DFU_STATE_ERROR: {
                int r = dfu_request_out(d, DFU_REQ_CLRSTATUS, 0, NULL, 0);
                return r < 0 ? dfuse_fail(d, r, op, NULL, error) : 0;
        }
        case DFU_STATE_DNLOAD_SYNC:
        case DFU_STATE_DNLOAD_IDLE:
        case DFU_STATE_UPLOAD_IDLE:
        case DFU_STATE_MANIFEST_SYNC:
                return dfuse_abort(d, op, error);
        case DFU_STATE_DNBUSY:
                /* Left busy by an earlier call: a stuck board needs its release, others their time. */
                if (d->quirks.double_clrstatus)
                        return dfuse_clear_stuck(d, op, error);
                sleep_until_us(now_us() + (uint64_t)st->poll_timeout_ms * 1000);
                return 0;
        default:
                return dfu_error_set(error, EPROTO,
                                     "%s: the board is in state %s, not in DFU mode (status %s)", op->what,
                                     dfu_state_to_string(st->state), dfu_status_to_string(st->status));
        }
}

/* GETSTATUS; dfuERROR -> CLRSTATUS; a half-done transfer -> ABORT; until the board says dfuIDLE. */
int dfuse_to_idle(DfuseDevice *d, DfuError *error) {
        DfuseOp op = {
                .phase = DFUSE_PHASE_CONNECT, .what = "bringing the board to dfuIDLE", .no_address = true};
        DfuStatus st;
        int r;

        if (d->arrived && d->quirks.clrstatus_on_arrival) {
                /* Known to come up in dfuERROR: clear first, the GETSTATUS below then confirms. */
                r = dfu_request_out(d, DFU_REQ_CLRSTATUS, 0, NULL, 0);
                if (r < 0 && r != -EPIPE)
                        return dfuse_fail(d, r, &op, NULL, error);
        }
        d->arrived = false;

        for (unsigned i = 0; i < MAX_SETTLE_STEPS; i++) {
                r = dfu_get_status(d, &st, 0);
                if (r < 0)
                        return dfuse_fail(d, r, &op, NULL, error);
                if (st.state == DFU_STATE_IDLE && st.status == 0)
                        return 0;
                r = settle_step(d, &st, &op, error);
                if (r < 0)
                        return r;
        }
        return dfu_error_set(error, EPROTO,
                             "the board does not reach dfuIDLE: it stays in %s with status %s",
                             dfu_state_to_string(st.state), dfu_status_to_string(st.status));
}

/* A refused upload stalls; the status tells why (errVENDOR: read protection). */
static int upload_failed(DfuseDevice *d, int r, const DfuseOp *op, DfuError *error) {
        DfuStatus st;

        if (r == -EPIPE && dfu_get_status(d, &st, 0) >= 0 && (st.status != 0 || st.state == DFU_STATE_ERROR))
                return dfuse_fail(d, r, op, &st, error);
        return dfuse_fail(d, r, op, NULL, error);
}

/* One set-address window: blocks 2.. from address. */
static int upload_window(DfuseDevice *d, uint32_t address, uint8_t *buf, uint32_t size, DfuseOp *op,
                         ProgressCtx *pc, DfuError *error) {
        uint16_t ts = d->info.transfer_size;
        int r;

        r = dfuse_set_address(d, address, op, error);
        if (r < 0)
                return r;
        /* UPLOAD is refused outside dfuIDLE/dfuUPLOAD-IDLE: after a set-address, go back through ABORT. */
        if (d->last_state != DFU_STATE_IDLE && d->last_state != DFU_STATE_UPLOAD_IDLE) {
                r = dfuse_abort(d, op, error);
                if (r < 0)
                        return r;
        }

        for (uint32_t off = 0, block = 2; off < size; off += ts, block++) {
                uint16_t len = (uint16_t)MIN((uint32_t)ts, size - off);

                if (dfuse_cancelled(d))
                        return -ECANCELED;
                op->address = address + off;
                d->last_op = *op;
                r = dfu_request_in(d, DFU_REQ_UPLOAD, (uint16_t)block, buf + off, len, 0);
                if (r < 0)
                        return upload_failed(d, r, op, error);
                if (r != len)
                        return dfu_error_set(error, EIO, "%s 0x%08X failed: the board sent %d of %u bytes",
                                             op->what, op->address, r, len);
                d->stats->bytes_read += len;
                progress_add(pc, op->phase, op->address, len);
        }
        return 0;
}

void progress_add(ProgressCtx *pc, DfusePhase phase, uint32_t address, uint64_t bytes) {
        if (!pc)
                return;
        pc->done += bytes;
        if (pc->fn)
                pc->fn(&(DfuseProgress){phase, pc->done, pc->total, address, pc->sectors_done,
                                        pc->sectors_total},
                       pc->userdata);
}

int dfuse_upload_range(DfuseDevice *d, uint32_t address, uint8_t *buf, uint32_t size, const DfuseOp *op,
                       ProgressCtx *pc, DfuError *error) {
        uint64_t window = (uint64_t)d->max_blocks * d->info.transfer_size;
        DfuseOp o = *op;

        for (uint64_t off = 0; off < size; off += window) {
                uint32_t len = (uint32_t)MIN(window, size - off);
                int r = upload_window(d, address + (uint32_t)off, buf + off, len, &o, pc, error);
                if (r < 0)
                        return r;
        }
        return 0;
}

static bool vanished(int r) {
        return r == -ENODEV || r == -EIO || r == -EPIPE;
}

/*
 * Leave: optional set-address, a zero-length DNLOAD, one GETSTATUS that makes the board jump. A board
 * that drops off the bus on the way has done exactly what was asked.
 */
int dfuse_leave(DfuseDevice *d, bool has_address, uint32_t address, DfuError *error) {
        DfuseOp op = {.phase = DFUSE_PHASE_LEAVE, .what = "leave request", .no_address = true};
        DfuStatus st;
        int r;

        r = dfuse_ready_for_dnload(d, &op, error);
        if (r < 0)
                return r;
        if (has_address) {
                r = dfuse_set_address(d, address, &op, error);
                if (r < 0)
                        return r;
        }
        d->last_op = op;
        r = dfu_request_out(d, DFU_REQ_DNLOAD, 2, NULL, 0);
        if (r < 0)
                return vanished(r) ? 0 : dfuse_fail(d, r, &op, NULL, error);
        r = dfu_get_status(d, &st, 0);
        if (r < 0) {
                if (vanished(r) || (r == -ETIMEDOUT && d->quirks.reset_on_leave))
                        return 0;
                return dfuse_fail(d, r, &op, NULL, error);
        }
        if (st.status != 0 || st.state == DFU_STATE_ERROR)
                return dfuse_fail(d, -EIO, &op, &st, error);
        if (st.state == DFU_STATE_MANIFEST || st.state == DFU_STATE_MANIFEST_SYNC ||
            st.state == DFU_STATE_MANIFEST_WAIT_RESET)
                return 0;
        return dfuse_fail(d, -EPROTO, &op, &st, error);
}
