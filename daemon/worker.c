/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "log.h"

/*
 * One thread per running job calls the engine. Progress lands in Job.shared under Job.lock; the event
 * loop picks it up on a 100 ms timer (so PropertiesChanged stays at most ~10/s per job) or at once
 * when the phase changes. The leave request is recorded from the thread itself, before it is sent:
 * a job that got that far is not flashed again after a crash.
 */

#define PROGRESS_INTERVAL_USEC (100 * USEC_PER_MSEC)
#define LEAVE_GRACE_USEC       (10 * USEC_PER_SEC)

static JobState phase_to_state(DfusePhase p) {
        switch (p) {
        case DFUSE_PHASE_WRITE:
                return JOB_WRITING;
        case DFUSE_PHASE_VERIFY:
                return JOB_VERIFYING;
        case DFUSE_PHASE_LEAVE:
        case DFUSE_PHASE_DONE:
                return JOB_LEAVING;
        default:
                return JOB_ERASING;
        }
}

static void on_progress(const DfuseProgress *p, void *userdata) {
        Job *j = userdata;
        bool phase_changed, record_leave = false;

        pthread_mutex_lock(&j->lock);
        phase_changed = p->phase != j->shared.phase;
        if (phase_changed)
                j->shared.phase_start_usec = now_monotonic_usec();
        j->shared.phase = p->phase;
        j->shared.phase_done = p->bytes_done;
        j->shared.phase_total = p->bytes_total;
        j->shared.dirty = true;
        if (p->phase == DFUSE_PHASE_LEAVE && !j->shared.leave_requested)
                j->shared.leave_requested = record_leave = true;
        pthread_mutex_unlock(&j->lock);

        if (record_leave)
                (void)store_record_leave(j->ctx, j);
        if (phase_changed)
                tasks_wake(j->ctx);
}

static void worker_run(void *userdata) {
        Job *j = userdata;
        _cleanup_(dfuse_closep) DfuseDevice *dev = NULL;

        /* A libusb context of the job's own: with one shared context every synchronous transfer of
         * every board contends for its single event lock, which cost 1.35x instead of 1.12x makespan
         * at 32 boards (bench/daemon-boards). */
        j->result = dfuse_open(NULL, j->port_path, &dev, &j->worker_error);
        if (j->result < 0)
                return;
        j->result = dfuse_execute(dev, j->plan, on_progress, j, &j->cancel, &j->stats, &j->worker_error);
}

/* Overall progress: phases weighted roughly by the time they take on a typical part. */
static double overall_progress(const Job *j, DfusePhase phase, double f) {
        bool verify = j->plan && j->plan->verify;
        switch (phase) {
        case DFUSE_PHASE_CONNECT:
                return 0;
        case DFUSE_PHASE_READ:
                return 0.05 * f;
        case DFUSE_PHASE_ERASE:
                return 0.05 + 0.40 * f;
        case DFUSE_PHASE_WRITE:
                return 0.45 + (verify ? 0.40 : 0.50) * f;
        case DFUSE_PHASE_VERIFY:
                return 0.85 + 0.10 * f;
        case DFUSE_PHASE_LEAVE:
        case DFUSE_PHASE_DONE:
        default:
                return 0.97;
        }
}

void job_flush_progress(Job *j) {
        JobShared s;
        uint64_t now = now_monotonic_usec();

        pthread_mutex_lock(&j->lock);
        s = j->shared;
        j->shared.dirty = false;
        pthread_mutex_unlock(&j->lock);
        if (!s.dirty || !j->running)
                return;

        JobState state = phase_to_state(s.phase);
        double f = s.phase_total ? (double)s.phase_done / (double)s.phase_total : 0;
        uint64_t elapsed = now > s.phase_start_usec ? now - s.phase_start_usec : 0;

        /* BytesDone/BytesTotal speak of the image being written, whatever the phase: a client showing
         * "written" at the end must not see the leave phase's zero. Rate stays the current phase's. */
        if (s.phase == DFUSE_PHASE_WRITE)
                j->bytes_done = MIN(s.phase_done, j->bytes_total);
        else if (s.phase > DFUSE_PHASE_WRITE)
                j->bytes_done = j->bytes_total;
        j->rate = elapsed > 0 ? s.phase_done * USEC_PER_SEC / elapsed : 0;
        j->progress = overall_progress(j, s.phase, f);
        uint64_t since_start = now_realtime_usec() - j->start_usec;
        if (j->progress > 0.05)
                j->expected_end_usec = j->start_usec + (uint64_t)((double)since_start / j->progress);

        j->state = state;
        (void)bus_job_emit_changed(j, (const char *[]){"State", "Progress", "BytesDone", "BytesTotal",
                                                       "Rate", "ExpectedEndTime", NULL});
}

void worker_flush_all(Context *ctx) {
        LIST_FOREACH (jobs, j, ctx->jobs)
                if (j->running)
                        job_flush_progress(j);
}

static int on_progress_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Context *ctx = userdata;

        worker_flush_all(ctx);
        if (ctx->n_running > 0) {
                (void)sd_event_source_set_time_relative(s, PROGRESS_INTERVAL_USEC);
                (void)sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        }
        return 0;
}

/* A board that does not drop off after its leave request is still in its bootloader: usable again. */
static int on_left_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Device *d = userdata;

        d->left = false;
        d->left_source = sd_event_source_disable_unref(d->left_source);
        (void)bus_device_emit_changed(d, NULL);
        queue_dispatch(d->ctx);
        return 0;
}

static void device_mark_left(Device *d) {
        d->left = true;
        d->left_source = sd_event_source_disable_unref(d->left_source);
        if (sd_event_add_time_relative(d->ctx->event, &d->left_source, CLOCK_MONOTONIC, LEAVE_GRACE_USEC,
                                       USEC_PER_MSEC * 100, on_left_timeout, d) < 0)
                d->left = false;
}

static void worker_done(Context *ctx, void *userdata) {
        Job *j = userdata;
        Device *d;

        j->running = false;
        ctx->n_running--;
        if (ctx->exiting)
                return;

        job_flush_progress(j);
        d = device_find(ctx, j->port_path);
        if (d && d->current_job == j) {
                d->current_job = NULL;
                if (j->result >= 0 && (j->shared.leave_requested || (j->plan && j->plan->leave)))
                        device_mark_left(d);
                (void)bus_device_emit_changed(d, NULL);
        }
        if (j->result >= 0)
                job_finish(j, JOB_DONE, NULL);
        else if (j->result == -ECANCELED || atomic_load(&j->cancel))
                job_finish(j, JOB_CANCELLED, "Cancelled.");
        else
                job_finish(j, JOB_FAILED, dfu_error_message(&j->worker_error));
}

int worker_start(Job *j, Device *d) {
        Context *ctx = j->ctx;
        int r;

        if (free(j->port_path), !(j->port_path = strdup(d->port_path)))
                return -ENOMEM;
        free(j->serial);
        j->serial = d->serial ? strdup(d->serial) : NULL;
        free(j->station);
        j->station = d->station ? strdup(d->station) : NULL;
        free(j->device_path);
        j->device_path = strdup(d->object_path);
        if (!j->device_path)
                return -ENOMEM;
        j->start_usec = now_realtime_usec();
        if (j->plan && j->plan->estimate_ms > 0)
                j->expected_end_usec = j->start_usec + j->plan->estimate_ms * USEC_PER_MSEC;
        j->shared = (JobShared){.phase = DFUSE_PHASE_CONNECT, .phase_start_usec = now_monotonic_usec()};
        j->timeout_source = sd_event_source_disable_unref(j->timeout_source);

        r = store_record_start(ctx, j);
        if (r < 0)
                log_warning_errno(r, "Failed to record the start of job %" PRIu32 ": %m", j->id);

        /* From here on only the plan is needed: with 32 boards busy, the copies would add up. */
        j->image = image_free(j->image);
        if (j->report)
                j->report->kept = image_free(j->report->kept);

        j->running = true;
        ctx->n_running++;
        d->current_job = j;
        r = task_start(ctx, worker_run, worker_done, j);
        if (r < 0) {
                j->running = false;
                ctx->n_running--;
                d->current_job = NULL;
                return r;
        }
        log_info("Job %" PRIu32 " started on port %s.", j->id, d->port_path);
        j->state = JOB_ERASING;
        (void)bus_job_emit_changed(j, (const char *[]){"State", "Device", "PortPath", "StartTime",
                                                       "ExpectedEndTime", "Report", "BytesTotal", NULL});
        (void)bus_device_emit_changed(d, NULL);
        notify_status(ctx);

        if (!ctx->progress_timer) {
                r = sd_event_add_time_relative(ctx->event, &ctx->progress_timer, CLOCK_MONOTONIC,
                                               PROGRESS_INTERVAL_USEC, 10 * USEC_PER_MSEC, on_progress_timer,
                                               ctx);
                if (r < 0)
                        log_warning_errno(r, "Failed to start the progress timer: %m");
        } else {
                (void)sd_event_source_set_time_relative(ctx->progress_timer, PROGRESS_INTERVAL_USEC);
                (void)sd_event_source_set_enabled(ctx->progress_timer, SD_EVENT_ONESHOT);
        }
        return 0;
}
