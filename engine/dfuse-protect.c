/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>

#include "dfuse-internal.h"

/* The probe reads this much: one short block is enough for the ROM to refuse or answer. */
#define PROBE_BYTES 64u

static const char *const protection_names[_DFUSE_PROTECTION_MAX] = {
        [DFUSE_PROTECTION_UNKNOWN] = "unknown",
        [DFUSE_PROTECTION_NONE] = "none",
        [DFUSE_PROTECTION_READ] = "read-protected",
};

const char *dfuse_protection_to_string(DfuseProtection p) {
        return (unsigned)p < _DFUSE_PROTECTION_MAX ? protection_names[p] : "unknown";
}

static uint32_t flash_base(const DfuseDevice *d) {
        const MemMap *map = d->info.map;

        if (map && map->n_layouts > 0 && map->layouts[0].n_regions > 0)
                return map->layouts[0].regions[0].address;
        return 0x08000000u;
}

int dfuse_probe_protection(DfuseDevice *d, const atomic_bool *cancel, DfuseProtection *ret,
                           DfuError *error) {
        uint8_t buf[PROBE_BYTES];
        DfuError e = DFU_ERROR_INIT;
        uint32_t size;
        int r;

        *ret = DFUSE_PROTECTION_UNKNOWN;
        if (!d)
                return dfu_error_set(error, EINVAL, "no device");
        size = MIN((uint32_t)PROBE_BYTES, (uint32_t)d->info.transfer_size);
        r = dfuse_read(d, 0, flash_base(d), buf, size, cancel, &e);
        if (r == -EACCES) {
                /* The refusal is the answer; the engine cleared the error status already. */
                *ret = DFUSE_PROTECTION_READ;
                return 0;
        }
        if (r < 0) {
                *error = e;
                return r;
        }
        *ret = DFUSE_PROTECTION_NONE;
        return 0;
}

/* The GETSTATUS after a command that resets the board: vanishing on the way is the reset itself; an
 * error status is the board's refusal. With busy, the answer must say dfuDNBUSY. */
static int expect_reset(DfuseDevice *d, const DfuseOp *op, bool busy, DfuError *error) {
        DfuStatus st;
        int r = dfu_get_status(d, &st, 0);

        if (r == -ENODEV || r == -EIO || r == -EPIPE)
                return 0;
        if (r < 0)
                return dfuse_fail(d, r, op, NULL, error);
        if (st.status != 0 || st.state == DFU_STATE_ERROR)
                return dfuse_fail(d, -EIO, op, &st, error);
        if (busy && st.state != DFU_STATE_DNBUSY)
                return dfuse_fail(d, -EPROTO, op, &st, error);
        return 0;
}

int dfuse_read_unprotect(DfuseDevice *d, const atomic_bool *cancel, DfuError *error) {
        DfuseOp op = {.phase = DFUSE_PHASE_ERASE, .what = "read unprotect", .no_address = true};
        uint8_t cmd = DFUSE_CMD_READ_UNPROTECT;
        uint64_t start = now_us();
        int r;

        if (!d)
                return dfu_error_set(error, EINVAL, "no device");
        dfuse_call_begin(d, NULL, cancel);
        r = dfuse_select_alt(d, 0, error) ?: dfuse_to_idle(d, error);
        if (r < 0)
                return dfuse_call_end(d, r, start, error);
        d->last_op = op;
        d->pointer_valid = false;
        r = dfu_request_out(d, DFU_REQ_DNLOAD, 0, &cmd, 1);
        if (r == -ENODEV)
                return dfuse_call_end(d, 0, start, error);
        if (r < 0)
                return dfuse_call_end(d, dfuse_fail(d, r, &op, NULL, error), start, error);
        /* The command runs at this GETSTATUS, which must say dfuDNBUSY; the board then resets and cannot
         * answer another (AN3156, "Read Unprotect command"). */
        return dfuse_call_end(d, expect_reset(d, &op, true, error), start, error);
}

int dfuse_write_option_bytes(DfuseDevice *d, unsigned alt, uint32_t address, const uint8_t *data,
                             uint16_t size, const atomic_bool *cancel, DfuError *error) {
        DfuseOp op = {.phase = DFUSE_PHASE_WRITE, .what = "option-byte write at", .address = address};
        uint64_t start = now_us();
        DfuStatus st;
        int r;

        if (!d || !data || size == 0)
                return dfu_error_set(error, EINVAL, "no device or no option bytes");
        if (size > d->info.transfer_size)
                return dfu_error_set(error, EINVAL, "%u option bytes do not fit one transfer of %u", size,
                                     d->info.transfer_size);
        dfuse_call_begin(d, NULL, cancel);
        r = dfuse_select_alt(d, alt, error) ?: dfuse_to_idle(d, error) ?: dfuse_set_address(d, address, &op, error);
        if (r < 0)
                return dfuse_call_end(d, r, start, error);
        d->last_op = op;
        d->pointer_valid = false;
        r = dfu_request_out(d, DFU_REQ_DNLOAD, 2, data, size);
        if (r == -ENODEV)
                return dfuse_call_end(d, 0, start, error);
        if (r < 0) {
                /* A refused block leaves the reason in the status. */
                if (r == -EPIPE && dfu_get_status(d, &st, 0) >= 0 &&
                    (st.status != 0 || st.state == DFU_STATE_ERROR))
                        return dfuse_call_end(d, dfuse_fail(d, r, &op, &st, error), start, error);
                return dfuse_call_end(d, dfuse_fail(d, r, &op, NULL, error), start, error);
        }
        /* The option bytes are programmed at this GETSTATUS; the reload that follows resets the board. */
        return dfuse_call_end(d, expect_reset(d, &op, false, error), start, error);
}
