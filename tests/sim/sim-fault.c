/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <limits.h>

#include "sim-private.h"

/* The phase a request starts, or SIM_PHASE_ANY when it continues the current one. */
SimPhase sim_fault_phase(const SimSetup *s, const uint8_t *data) {
        if ((s->bmRequestType & 0x60) != 0x20)
                return SIM_PHASE_ANY;
        switch (s->bRequest) {
        case DFU_DNLOAD:
                if (s->wLength == 0)
                        return SIM_PHASE_LEAVE;
                if (s->wValue == 0 && data && data[0] == DFUSE_ERASE)
                        return SIM_PHASE_ERASE;
                return s->wValue >= 2 ? SIM_PHASE_WRITE : SIM_PHASE_ANY;
        case DFU_UPLOAD:
                return s->wValue >= 2 ? SIM_PHASE_READ : SIM_PHASE_ANY;
        default:
                return SIM_PHASE_ANY;
        }
}

int sim_board_inject(SimBoard *b, const SimFaultSpec *f) {
        if (!f || f->fault == SIM_FAULT_NONE)
                return -EINVAL;
        if (b->n_faults >= SIM_FAULTS_MAX)
                return -ENOSPC;
        b->faults[b->n_faults++] = (SimFaultSlot){.spec = *f};
        return 0;
}

void sim_board_clear_faults(SimBoard *b) {
        b->n_faults = 0;
        b->stall_left = b->silent_left = 0;
        b->status_fault = false;
}

void sim_board_hold(SimBoard *b, bool hold) {
        b->held = hold;
}

static SimResult fire(SimBoard *b, const SimFaultSpec *f) {
        switch (f->fault) {
        case SIM_FAULT_UNPLUG:
                b->gone = true;
                return SIM_DISCONNECT;
        case SIM_FAULT_STALL:
                b->stall_left = MAX(f->count, 1u) - 1;
                return SIM_STALL;
        case SIM_FAULT_STATUS:
                b->status_fault = true;
                b->status_fault_code = f->status;
                return SIM_OK;
        case SIM_FAULT_NO_ANSWER:
                b->silent_left = f->count == 0 ? UINT_MAX : f->count - 1;
                return SIM_NO_ANSWER;
        case SIM_FAULT_NONE:
        default:
                return SIM_OK;
        }
}

/*
 * Called for every request once b->phase is updated: SIM_OK lets the request through, anything else
 * is the answer instead of it (the request has no effect on the board).
 */
SimResult sim_fault_check(SimBoard *b, SimPhase phase, bool poll) {
        if (b->silent_left > 0) {
                if (b->silent_left != UINT_MAX)
                        b->silent_left--;
                return SIM_NO_ANSWER;
        }
        if (b->stall_left > 0) {
                b->stall_left--;
                return SIM_STALL;
        }

        for (size_t i = 0; i < b->n_faults; i++) {
                SimFaultSlot *slot = &b->faults[i];
                if (slot->fired || (slot->spec.phase != SIM_PHASE_ANY && slot->spec.phase != phase) ||
                    (slot->spec.polls && !poll))
                        continue;
                if (slot->seen++ < slot->spec.after)
                        continue;
                slot->fired = true;
                SimResult r = fire(b, &slot->spec);
                if (r != SIM_OK)
                        return r;
        }
        return SIM_OK;
}
