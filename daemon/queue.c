/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>

#include "context.h"
#include "log.h"

/*
 * The scheduler: one running job per board, any number of boards at once up to MaxParallel. Jobs are
 * served in submission order; a job whose board is busy is "queued", one with no matching board
 * attached is "waiting" and starts when one arrives.
 */

static bool job_has_any_board(Context *ctx, const Job *j) {
        LIST_FOREACH (devices, d, ctx->devices) {
                if (!d->published || d->failed)
                        continue;
                if (j->opts.port      ? streq(j->opts.port, d->port_path)
                    : j->opts.serial  ? (d->serial && streq(j->opts.serial, d->serial))
                    : j->opts.station ? (d->station && streq(j->opts.station, d->station))
                                      : j->opts.any)
                        return true;
        }
        return false;
}

static void queue_try_start(Context *ctx, Job *j) {
        DfuError error = DFU_ERROR_INIT;
        Device *match = NULL;
        int r;

        LIST_FOREACH (devices, d, ctx->devices)
                if (job_matches_device(j, d)) {
                        match = d;
                        break;
                }
        if (!match) {
                job_set_state(j, job_has_any_board(ctx, j) ? JOB_QUEUED : JOB_WAITING);
                return;
        }

        /* The job was checked against a part or another board: the board's own map decides now. */
        if (j->prepared_generation != match->generation) {
                r = job_prepare(j, match, ctx->config.default_verify, &error);
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

void queue_dispatch(Context *ctx) {
        if (ctx->exiting)
                return;
        LIST_FOREACH_SAFE(jobs, j, n, ctx->jobs) {
                if (!j->accepted || j->running || j->finishing ||
                    (j->state != JOB_QUEUED && j->state != JOB_WAITING))
                        continue;
                if (ctx->n_running >= ctx->config.max_parallel) {
                        job_set_state(j, job_has_any_board(ctx, j) ? JOB_QUEUED : JOB_WAITING);
                        continue;
                }
                queue_try_start(ctx, j);
        }
}

int queue_add(Context *ctx, Job *j) {
        int r;

        j->state = JOB_QUEUED;
        r = bus_job_add(j);
        if (r < 0)
                return r;
        (void)bus_manager_emit_changed(ctx, "Jobs");
        r = job_arm_timeout(j);
        if (r < 0)
                log_warning_errno(r, "Failed to arm the timeout of job %" PRIu32 ": %m", j->id);
        queue_dispatch(ctx);
        return 0;
}
