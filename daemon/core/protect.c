/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "job.h"
#include "journal.h"
#include "log.h"
#include "manager.h"
#include "protect.h"
#include "queue.h"
#include "time-util.h"

static int refuse_protected(Job *j) {
        return dfu_error_set(
                &j->worker_error, EACCES,
                "The board on port %s (serial %s) is read-protected (RDP level 1): nothing was "
                "erased or written. The option 'unprotect' (dfusctl flash --unprotect) regresses "
                "it, which erases its whole flash.",
                j->port_path, j->serial && *j->serial ? j->serial : "-");
}

static int set_note(Job *j, const char *note) {
        free(j->protection_done);
        j->protection_done = strdup(note);
        return j->protection_done ? 0 : dfu_error_set(&j->worker_error, ENOMEM, "Out of memory.");
}

int protect_before_plan(Job *j, DfuseDevice *dev) {
        DfuseProtection p = j->board_protection;
        int r;

        if (j->unprotect_sent) {
                /* Back after the read unprotect: it must have worked. */
                r = dfuse_probe_protection(dev, &j->cancel, &p, &j->worker_error);
                if (r < 0)
                        return r;
                if (p != DFUSE_PROTECTION_NONE)
                        return dfu_error_set(&j->worker_error, EACCES,
                                             "The board on port %s is still read-protected after the read "
                                             "unprotect; is write protection on as well?",
                                             j->port_path);
                j->board_protection = p;
                journal_protection_changed(j, "read-unprotect",
                                           "read protection removed, the flash mass-erased");
                return set_note(j, "read protection removed (flash mass-erased)");
        }
        if (p == DFUSE_PROTECTION_UNKNOWN && j->opts.unprotect) {
                r = dfuse_probe_protection(dev, &j->cancel, &p, &j->worker_error);
                if (r < 0)
                        return r;
                j->board_protection = p;
        }
        if (p != DFUSE_PROTECTION_READ)
                return 0;
        if (!j->opts.unprotect)
                return refuse_protected(j);
        r = dfuse_read_unprotect(dev, &j->cancel, &j->worker_error);
        if (r < 0)
                return r;
        j->unprotect_sent = true;
        return PROTECT_BOARD_RETURNS;
}

int protect_explain_failure(Job *j, int r) {
        /* The plan ran into the protection the probe at attach did not see. */
        if (r == -EACCES && !j->opts.unprotect) {
                j->worker_error = (DfuError)DFU_ERROR_INIT;
                return refuse_protected(j);
        }
        return r;
}

static int on_return_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Job *j = userdata;

        j->return_source = sd_event_source_disable_unref(j->return_source);
        if (!j->returning)
                return 0;
        j->returning = false;
        job_finish(j, JOB_FAILED,
                   "The board did not come back on its port after the read unprotect; its flash is erased "
                   "and it may need a reset into its bootloader.");
        return 0;
}

bool protect_device_fits(const Job *j, const Device *d) {
        return !j->returning || d->generation > j->left_generation;
}

void protect_await_return(Job *j) {
        Manager *m = j->manager;
        Device *d = device_find(m, j->port_path);
        int r;

        journal_protection_changed(j, "read-unprotect",
                                   "read unprotect sent: the board erases its flash and resets");
        log_notice("Job %" PRIu32
                   ": read unprotect sent to the board on port %s; waiting for it to come back.",
                   j->id, j->port_path);
        j->left_generation = d ? d->generation : 0;
        if (d && d->current_job == j) {
                d->current_job = NULL;
                /* It is resetting: no other job may take it before it has gone and come back. */
                device_mark_left(d);
                manager_emit_device_changed(m, d, NULL);
        }
        /* Only the same port will do, and the job may wait for it. */
        free(j->opts.port);
        j->opts.port = strdup(j->port_path);
        j->opts.serial = mfree(j->opts.serial);
        j->opts.station = mfree(j->opts.station);
        j->opts.any = false;
        j->opts.wait = true;
        if (!j->opts.port) {
                job_finish(j, JOB_FAILED, "Out of memory.");
                return;
        }
        j->returning = true;
        r = sd_event_add_time_relative(m->event, &j->return_source, CLOCK_MONOTONIC,
                                       PROTECT_RETURN_TIMEOUT_USEC, USEC_PER_SEC, on_return_timeout, j);
        if (r < 0)
                log_warning_errno(r, "Failed to arm the return timeout of job %" PRIu32 ": %m", j->id);
        job_set_state(j, JOB_WAITING);
        queue_dispatch(m);
}
