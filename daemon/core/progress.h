/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

#include "dfuse.h"
#include "plan.h"

/*
 * What a running job's Progress and ExpectedEndTime say, from the plan's timing model (the time it
 * expects each phase to take) and the rate measured in the current phase. Pure functions: the
 * worker feeds them what the engine last reported.
 */

/* Where the engine is, as it last reported. */
typedef struct ProgressSample {
        DfusePhase phase;
        uint64_t done, total;        /* bytes of the phase (0 and 0: no count, as for a mass erase) */
        uint64_t phase_elapsed_usec; /* since the phase began */
} ProgressSample;

typedef struct ProgressEstimate {
        double progress;         /* 0 to 1: the share of the plan's expected time behind us */
        uint64_t remaining_usec; /* expected time to the end */
} ProgressEstimate;

/* The time the plan expects each phase to take (µs). Without the part's timing every phase is
 * weighed by the bytes it moves, as if all went at the speed of USB. */
void progress_phase_model(const Plan *plan, uint64_t ret_usec[static _DFUSE_PHASE_MAX]);

void progress_estimate(const Plan *plan, const ProgressSample *s, ProgressEstimate *ret);

/* The Job's Phase: "connecting", "reading", "erasing", "writing", "verifying", "leaving", "done". */
const char *progress_phase_to_string(DfusePhase p);
