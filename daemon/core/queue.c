/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <stdlib.h>

#include "device.h"
#include "job.h"
#include "log.h"
#include "manager.h"
#include "match.h"
#include "protect.h"
#include "queue.h"
#include "worker.h"

static bool job_has_any_board(Manager *m, const Job *j) {
        MatchSpec spec;

        match_spec_from_job_options(&j->opts, &spec);
        LIST_FOREACH (devices, d, m->devices)
                if (device_is_usable(d) && match_board(&spec, d))
                        return true;
        return false;
}

/* Queued if a board it may use is attached (busy), waiting if none is. A job that did not ask to wait
 * fails instead of waiting: its caller is told now rather than never. */
static void queue_park(Manager *m, Job *j) {
        if (job_has_any_board(m, j))
                job_set_state(j, JOB_QUEUED);
        else if (j->opts.wait)
                job_set_state(j, JOB_WAITING);
        else
                job_finish(j, JOB_FAILED,
                           "No matching board is attached any more; pass wait to wait for one.");
}

static void queue_try_start(Manager *m, Job *j) {
        DfuError error = DFU_ERROR_INIT;
        Device *match = NULL;
        MatchSpec spec;
        int r;

        match_spec_from_job_options(&j->opts, &spec);
        LIST_FOREACH (devices, d, m->devices)
                if (device_is_idle(d) && match_board(&spec, d) && protect_device_fits(j, d)) {
                        match = d;
                        break;
                }
        if (!match)
                return queue_park(m, j);

        j->returning = false;
        j->board_protection = match->protection;
        /* The job was checked against a part or another board: the board's own map decides now. A job
         * whose board reset on purpose (protect.c) keeps its plan: same port, same board. */
        if (j->prepared_generation != match->generation && !j->board_reset) {
                r = job_prepare(j, match, &error);
                if (r < 0) {
                        job_finish(j, JOB_FAILED, dfu_error_message(&error));
                        return;
                }
                j->prepared_generation = match->generation;
        }

        r = worker_start(j, match);
        if (r < 0) {
                log_error_errno(r, "Failed to start job %" PRIu32 ": %m", j->id);
                job_finish(j, JOB_FAILED, "Failed to start a worker thread.");
        }
}

void queue_dispatch(Manager *m) {
        /* Resumed jobs go first, in their order: none starts before all of them are back. */
        if (m->exiting || m->draining || !m->boards_known || m->resumes_pending > 0)
                return;
        LIST_FOREACH_SAFE(jobs, j, n, m->jobs) {
                if (!j->accepted || j->running || j->allocating || j->finishing ||
                    (j->state != JOB_QUEUED && j->state != JOB_WAITING))
                        continue;
                if (m->n_running >= m->config.max_parallel) {
                        if (!job_has_any_board(m, j))
                                queue_park(m, j);
                        continue;
                }
                queue_try_start(m, j);
        }
}

int queue_add(Manager *m, Job *j) {
        int r;

        j->state = JOB_QUEUED;
        MANAGER_EMIT(m, job_added, j);
        manager_emit_changed(m, "Jobs");
        r = job_arm_timeout(j);
        if (r < 0)
                log_warning_errno(r, "Failed to arm the timeout of job %" PRIu32 ": %m", j->id);
        queue_dispatch(m);
        return 0;
}
