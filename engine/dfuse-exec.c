/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dfuse-internal.h"

/* What the reads before erasing decided for one planned sector. */
enum {
        KEEP_NOTHING = 0, /* erase and write */
        KEEP_ERASE = 1,   /* reads blank: write without erasing (non-ECC parts only) */
        KEEP_ALL = 2,     /* already holds the image's bytes: neither erase nor write */
};

typedef struct Exec {
        DfuseDevice *d;
        const Plan *plan;
        DfuseProgressFn progress;
        void *userdata;
        uint8_t *keep; /* per plan->erases entry, or NULL */
        DfuError *error;
} Exec;

static int check_cancel(Exec *x) {
        return dfuse_cancelled(x->d) ? -ECANCELED : 0;
}

/* Do the bytes the plan writes into [address, address + size) equal buf? */
static bool image_matches(const Plan *plan, uint32_t address, uint32_t size, const uint8_t *buf) {
        uint64_t lo = address, hi = (uint64_t)address + size;

        for (size_t i = 0; i < plan->n_runs; i++) {
                const PlanRun *run = &plan->runs[i];
                uint64_t a = MAX(lo, (uint64_t)run->address),
                         b = MIN(hi, (uint64_t)run->address + run->size);
                if (a >= b)
                        continue;
                if (memcmp(run->data + (a - run->address), buf + (a - lo), (size_t)(b - a)) != 0)
                        return false;
        }
        return true;
}

static bool all_blank(const uint8_t *buf, size_t size) {
        for (size_t i = 0; i < size; i++)
                if (buf[i] != 0xff)
                        return false;
        return true;
}

static void decide(Exec *x, size_t i, const uint8_t *buf) {
        const PlanErase *e = &x->plan->erases[i];

        if ((x->plan->skip & PLAN_SKIP_IDENTICAL) && image_matches(x->plan, e->address, e->size, buf))
                x->keep[i] = KEEP_ALL;
        else if ((x->plan->skip & PLAN_SKIP_BLANK) && all_blank(buf, e->size))
                x->keep[i] = KEEP_ERASE;
        if (x->keep[i] != KEEP_NOTHING)
                x->d->stats->erases_skipped++;
}

/* Reads the planned sectors, contiguous ones in one go (one set-address), and decides what to skip. */
static int read_for_skips(Exec *x) {
        const Plan *plan = x->plan;
        ProgressCtx pc = {x->progress, x->userdata, 0, 0};
        DfuseOp op = {.phase = DFUSE_PHASE_READ, .what = "read of sector"};

        if (!(plan->skip & (PLAN_SKIP_IDENTICAL | PLAN_SKIP_BLANK)) || plan->mass_erase ||
            plan->n_erases == 0)
                return 0;
        x->keep = calloc(plan->n_erases, 1);
        if (!x->keep)
                return dfu_error_set(x->error, ENOMEM, "out of memory");
        for (size_t i = 0; i < plan->n_erases; i++)
                pc.total += plan->erases[i].size;
        progress_add(&pc, DFUSE_PHASE_READ, plan->erases[0].address, 0);

        for (size_t i = 0, j; i < plan->n_erases; i = j) {
                uint64_t size = plan->erases[i].size;
                for (j = i + 1; j < plan->n_erases &&
                                plan->erases[j].address ==
                                        (uint64_t)plan->erases[j - 1].address + plan->erases[j - 1].size &&
                                size + plan->erases[j].size <= UINT32_MAX;
                     j++)
                        size += plan->erases[j].size;

                _cleanup_free_ uint8_t *buf = malloc((size_t)size);
                if (!buf)
                        return dfu_error_set(x->error, ENOMEM, "out of memory");
                int r = dfuse_upload_range(x->d, plan->erases[i].address, buf, (uint32_t)size, &op, &pc,
                                           x->error);
                if (r < 0)
                        return r;
                for (size_t k = i, off = 0; k < j; off += plan->erases[k].size, k++)
                        decide(x, k, buf + off);
        }
        return 0;
}

static int erase_all(Exec *x) {
        const Plan *plan = x->plan;
        ProgressCtx pc = {x->progress, x->userdata, 0, 0};
        int r;

        if (plan->mass_erase) {
                progress_add(&pc, DFUSE_PHASE_ERASE, 0, 0);
                r = check_cancel(x) ?: dfuse_mass_erase(x->d, x->error);
                if (r < 0)
                        return r;
                x->d->stats->erases_done++;
                progress_add(&pc, DFUSE_PHASE_ERASE, 0, 0);
                return 0;
        }
        for (size_t i = 0; i < plan->n_erases; i++)
                if (!x->keep || x->keep[i] == KEEP_NOTHING) {
                        pc.total += plan->erases[i].size;
                        pc.sectors_total++;
                }
        progress_add(&pc, DFUSE_PHASE_ERASE, plan->n_erases ? plan->erases[0].address : 0, 0);
        for (size_t i = 0; i < plan->n_erases; i++) {
                const PlanErase *e = &plan->erases[i];
                if (x->keep && x->keep[i] != KEEP_NOTHING)
                        continue;
                r = check_cancel(x) ?: dfuse_erase_sector(x->d, e->address, x->error);
                if (r < 0)
                        return r;
                x->d->stats->erases_done++;
                pc.sectors_done++;
                progress_add(&pc, DFUSE_PHASE_ERASE, e->address, e->size);
        }
        return 0;
}

/* One set-address, then consecutive blocks: block n lands at (n - 2) * transfer_size + address. */
static int write_range(Exec *x, const PlanRun *run, uint32_t off, uint32_t len, ProgressCtx *pc) {
        uint16_t ts = x->plan->transfer_size;
        uint64_t window = (uint64_t)x->d->max_blocks * ts;
        DfuseOp op = {.phase = DFUSE_PHASE_WRITE, .what = "write of block at"};
        int r;

        for (uint64_t w = 0; w < len; w += window) {
                uint32_t base = run->address + off + (uint32_t)w, wlen = (uint32_t)MIN(window, len - w);

                /* The set-address may be skipped (pointer already there): leave any upload state first. */
                r = check_cancel(x) ?: dfuse_set_address(x->d, base, &op, x->error) ?:
                                        dfuse_ready_for_dnload(x->d, &op, x->error);
                if (r < 0)
                        return r;
                for (uint32_t k = 0, block = 2; k < wlen; k += ts, block++) {
                        uint16_t blen = (uint16_t)MIN((uint32_t)ts, wlen - k);

                        op.address = base + k;
                        r = check_cancel(x)
                                    ?: dfuse_dnload_wait(x->d, (uint16_t)block, run->data + off + w + k,
                                                         blen, &op, x->error);
                        if (r < 0)
                                return r;
                        x->d->stats->bytes_written += blen;
                        progress_add(pc, DFUSE_PHASE_WRITE, op.address, blen);
                }
        }
        return 0;
}

/* Index of the first planned sector ending after address (n_erases when none). */
static size_t erase_after(const Plan *plan, uint64_t address) {
        size_t lo = 0, hi = plan->n_erases;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if ((uint64_t)plan->erases[mid].address + plan->erases[mid].size <= address)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

/* Where the writable stretch of the run starting at pos ends (sectors kept whole are not written). */
static uint64_t stretch_end(const Exec *x, const PlanRun *run, uint64_t pos) {
        uint64_t end = (uint64_t)run->address + run->size;

        for (size_t i = erase_after(x->plan, pos); i < x->plan->n_erases; i++) {
                const PlanErase *e = &x->plan->erases[i];
                if (e->address >= end)
                        break;
                if (x->keep[i] == KEEP_ALL)
                        return MAX(pos, (uint64_t)e->address);
        }
        return end;
}

static int write_run(Exec *x, const PlanRun *run, ProgressCtx *pc) {
        uint64_t pos = run->address, end = (uint64_t)run->address + run->size;
        int r;

        if (!x->keep)
                return write_range(x, run, 0, run->size, pc);
        while (pos < end) {
                size_t i = erase_after(x->plan, pos);
                if (i < x->plan->n_erases && x->plan->erases[i].address <= pos && x->keep[i] == KEEP_ALL) {
                        pos = MIN(end, (uint64_t)x->plan->erases[i].address + x->plan->erases[i].size);
                        continue;
                }
                uint64_t stop = stretch_end(x, run, pos);
                r = write_range(x, run, (uint32_t)(pos - run->address), (uint32_t)(stop - pos), pc);
                if (r < 0)
                        return r;
                pos = stop;
        }
        return 0;
}

static uint64_t run_bytes_to_write(const Exec *x, const PlanRun *run) {
        uint64_t n = run->size, lo = run->address, hi = lo + run->size;

        for (size_t i = 0; x->keep && i < x->plan->n_erases; i++) {
                const PlanErase *e = &x->plan->erases[i];
                uint64_t a = MAX(lo, (uint64_t)e->address), b = MIN(hi, (uint64_t)e->address + e->size);
                if (x->keep[i] == KEEP_ALL && a < b)
                        n -= b - a;
        }
        return n;
}

static int write_all(Exec *x) {
        ProgressCtx pc = {x->progress, x->userdata, 0, 0};

        for (size_t i = 0; i < x->plan->n_runs; i++)
                pc.total += run_bytes_to_write(x, &x->plan->runs[i]);
        progress_add(&pc, DFUSE_PHASE_WRITE, x->plan->n_runs ? x->plan->runs[0].address : 0, 0);
        for (size_t i = 0; i < x->plan->n_runs; i++) {
                const PlanRun *run = &x->plan->runs[i];
                int r = dfuse_select_alt(x->d, run->alt_setting, x->error) ?: write_run(x, run, &pc);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int verify_all(Exec *x) {
        ProgressCtx pc = {x->progress, x->userdata, 0, 0};
        DfuseOp op = {.phase = DFUSE_PHASE_VERIFY, .what = "verify read at"};

        for (size_t i = 0; i < x->plan->n_runs; i++)
                pc.total += x->plan->runs[i].size;
        progress_add(&pc, DFUSE_PHASE_VERIFY, x->plan->n_runs ? x->plan->runs[0].address : 0, 0);
        for (size_t i = 0; i < x->plan->n_runs; i++) {
                const PlanRun *run = &x->plan->runs[i];
                _cleanup_free_ uint8_t *buf = malloc(MAX(run->size, 1u));
                int r;

                if (!buf)
                        return dfu_error_set(x->error, ENOMEM, "out of memory");
                r = dfuse_select_alt(x->d, run->alt_setting, x->error)
                            ?: dfuse_upload_range(x->d, run->address, buf, run->size, &op, &pc, x->error);
                if (r < 0)
                        return r;
                for (uint32_t k = 0; k < run->size; k++)
                        if (buf[k] != run->data[k])
                                return dfu_error_set(
                                        x->error, EIO,
                                        "verify failed: 0x%08X reads 0x%02X where the image has 0x%02X",
                                        run->address + k, buf[k], run->data[k]);
                x->d->stats->bytes_verified += run->size;
        }
        return 0;
}

static int run_plan(Exec *x) {
        const Plan *plan = x->plan;
        DfuseDevice *d = x->d;
        int r;

        if (plan->transfer_size == 0 || plan->transfer_size > d->info.transfer_size)
                return dfu_error_set(x->error, EINVAL,
                                     "the plan's transfer size %u does not fit the board's %u",
                                     plan->transfer_size, d->info.transfer_size);
        r = dfuse_select_alt(d, plan->alt_setting, x->error) ?: dfuse_to_idle(d, x->error);
        if (r < 0)
                return r;
        r = check_cancel(x) ?: read_for_skips(x);
        if (r < 0)
                return r;
        r = check_cancel(x) ?: erase_all(x);
        if (r < 0)
                return r;
        r = check_cancel(x) ?: write_all(x);
        if (r < 0)
                return r;
        if (plan->verify) {
                r = check_cancel(x) ?: verify_all(x);
                if (r < 0)
                        return r;
        }
        if (plan->leave) {
                /* Reported before the request goes out: from here on the board may run its application. */
                if (x->progress && !dfuse_cancelled(d))
                        x->progress(&(DfuseProgress){DFUSE_PHASE_LEAVE, 0, 0, plan->leave_address},
                                    x->userdata);
                r = check_cancel(x) ?: dfuse_select_alt(d, plan->alt_setting, x->error) ?:
                                        dfuse_leave(d, plan->has_leave_address, plan->leave_address, x->error);
                if (r < 0)
                        return r;
        } else if (d->last_state != DFU_STATE_IDLE) {
                /* Staying in the bootloader: leave it where the next job (or dfu-util) expects to find
                 * it, not in dfuUPLOAD-IDLE after the verify read or dfuDNLOAD-IDLE after the write. */
                DfuseOp op = {.phase = DFUSE_PHASE_DONE, .what = "abort to dfuIDLE", .no_address = true};
                r = dfuse_abort(d, &op, x->error);
                if (r < 0)
                        return r;
        }
        if (x->progress)
                x->progress(&(DfuseProgress){DFUSE_PHASE_DONE, plan->bytes_total, plan->bytes_total, 0},
                            x->userdata);
        return 0;
}

void dfuse_call_begin(DfuseDevice *d, DfuseStats *stats, const atomic_bool *cancel) {
        d->stats = stats ?: &d->own_stats;
        *d->stats = (DfuseStats){};
        d->cancel = cancel;
        /* A reset or another program may have moved it since the last call. */
        d->pointer_valid = false;
        d->last_op = (DfuseOp){.phase = DFUSE_PHASE_CONNECT, .what = "connect", .no_address = true};
}

int dfuse_call_end(DfuseDevice *d, int r, uint64_t start_us, DfuError *error) {
        if (r == -ECANCELED) {
                DfuError ignored = DFU_ERROR_INIT;
                /* Between transfers the board is idle or half-way through a download/upload: ABORT. */
                if (d->last_state != DFU_STATE_IDLE)
                        (void)dfuse_abort(d, &d->last_op, &ignored);
                if (d->last_op.no_address)
                        dfu_error_set(error, ECANCELED, "cancelled during %s",
                                      dfuse_phase_to_string(d->last_op.phase));
                else
                        dfu_error_set(error, ECANCELED, "cancelled during %s at 0x%08X",
                                      dfuse_phase_to_string(d->last_op.phase), d->last_op.address);
        }
        d->stats->elapsed_us = now_us() - start_us;
        d->stats = NULL;
        d->cancel = NULL;
        return r;
}

int dfuse_execute(DfuseDevice *d, const Plan *plan, DfuseProgressFn progress, void *userdata,
                  const atomic_bool *cancel, DfuseStats *stats, DfuError *error) {
        Exec x = {d, plan, progress, userdata, NULL, error};
        uint64_t start = now_us();
        int r;

        if (!d || !plan)
                return dfu_error_set(error, EINVAL, "no device or no plan");
        dfuse_call_begin(d, stats, cancel);
        r = run_plan(&x);
        free(x.keep);
        return dfuse_call_end(d, r, start, error);
}

int dfuse_read(DfuseDevice *d, unsigned alt, uint32_t address, uint8_t *buf, uint32_t size,
               const atomic_bool *cancel, DfuError *error) {
        DfuseOp op = {.phase = DFUSE_PHASE_READ, .what = "read at"};
        uint64_t start = now_us();
        int r;

        if (!d || (!buf && size > 0))
                return dfu_error_set(error, EINVAL, "no device or no buffer");
        dfuse_call_begin(d, NULL, cancel);
        r = dfuse_select_alt(d, alt, error) ?: dfuse_to_idle(d, error) ?:
            dfuse_upload_range(d, address, buf, size, &op, NULL, error) ?: dfuse_abort(d, &op, error);
        return dfuse_call_end(d, r, start, error);
}
