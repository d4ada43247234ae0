/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "progress.h"
#include "time-util.h"

/* Full-speed USB moves about 1 KiB per millisecond, as the planner assumes. */
#define USB_USEC_PER_KIB 1000

/* The last moments of a job (the leave request, the board's reset) are not in the model: until the
 * engine says it is done, the job is never shown complete. */
#define PROGRESS_BEFORE_DONE 0.99

const char *progress_phase_to_string(DfusePhase p) {
        static const char *const table[_DFUSE_PHASE_MAX] = {
                [DFUSE_PHASE_CONNECT] = "connecting", [DFUSE_PHASE_READ] = "reading",
                [DFUSE_PHASE_ERASE] = "erasing",      [DFUSE_PHASE_WRITE] = "writing",
                [DFUSE_PHASE_VERIFY] = "verifying",   [DFUSE_PHASE_LEAVE] = "leaving",
                [DFUSE_PHASE_DONE] = "done",
        };

        return (unsigned)p < _DFUSE_PHASE_MAX ? table[p] : "";
}

void progress_phase_model(const Plan *plan, uint64_t ret_usec[static _DFUSE_PHASE_MAX]) {
        for (unsigned p = 0; p < _DFUSE_PHASE_MAX; p++)
                ret_usec[p] = 0;
        if (!plan)
                return;
        if (plan->estimate_ms > 0) {
                ret_usec[DFUSE_PHASE_READ] = plan->estimate_read_ms * USEC_PER_MSEC;
                ret_usec[DFUSE_PHASE_ERASE] = plan->estimate_erase_ms * USEC_PER_MSEC;
                ret_usec[DFUSE_PHASE_WRITE] = plan->estimate_write_ms * USEC_PER_MSEC;
                ret_usec[DFUSE_PHASE_VERIFY] = plan->estimate_verify_ms * USEC_PER_MSEC;
                return;
        }

        uint64_t sectors = 0;
        for (size_t i = 0; i < plan->n_erases; i++)
                sectors += plan->erases[i].size;
        if ((plan->skip & (PLAN_SKIP_IDENTICAL | PLAN_SKIP_BLANK)) && !plan->mass_erase)
                ret_usec[DFUSE_PHASE_READ] = sectors * USB_USEC_PER_KIB / 1024;
        ret_usec[DFUSE_PHASE_ERASE] = sectors * USB_USEC_PER_KIB / 1024;
        ret_usec[DFUSE_PHASE_WRITE] = plan->bytes_total * USB_USEC_PER_KIB / 1024;
        if (plan->verify)
                ret_usec[DFUSE_PHASE_VERIFY] = plan->bytes_total * USB_USEC_PER_KIB / 1024;
}

/*
 * Time left in the current phase: the model's figure for what is left of it, blended with the
 * extrapolation of the rate measured so far, trusting the measurement more the further the phase
 * has come (at its start the rate says little; near its end it says nearly everything). A phase
 * without a count (a mass erase) is expected to take its model's time, counted from its start.
 */
static uint64_t phase_remaining(uint64_t model_usec, const ProgressSample *s, double f) {
        if (s->total == 0)
                return model_usec > s->phase_elapsed_usec ? model_usec - s->phase_elapsed_usec : 0;

        double model_left = (double)model_usec * (1 - f);
        if (f <= 0 || s->phase_elapsed_usec == 0)
                return (uint64_t)model_left;
        double measured_left = (double)s->phase_elapsed_usec * (1 - f) / f;
        return (uint64_t)(model_left * (1 - f) + measured_left * f);
}

void progress_estimate(const Plan *plan, const ProgressSample *s, ProgressEstimate *ret) {
        uint64_t model[_DFUSE_PHASE_MAX], total = 0, behind = 0, ahead = 0;
        double f = 0;

        if (s->phase >= DFUSE_PHASE_DONE) {
                *ret = (ProgressEstimate){.progress = 1.0};
                return;
        }
        if (s->total > 0)
                f = s->done >= s->total ? 1.0 : (double)s->done / (double)s->total;
        progress_phase_model(plan, model);
        for (unsigned p = 0; p < _DFUSE_PHASE_MAX; p++) {
                total += model[p];
                if (p < s->phase)
                        behind += model[p];
                else if (p > s->phase)
                        ahead += model[p];
        }

        double progress = total > 0 ? ((double)behind + (double)model[s->phase] * f) / (double)total : 0;
        *ret = (ProgressEstimate){
                .progress = progress < PROGRESS_BEFORE_DONE ? progress : PROGRESS_BEFORE_DONE,
                .remaining_usec = phase_remaining(model[s->phase], s, f) + ahead,
        };
}
