/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "job.h"
#include "log.h"
#include "manager.h"
#include "patch.h"
#include "progress.h"
#include "protect.h"
#include "queue.h"
#include "rule.h"
#include "sequence.h"
#include "tasks.h"
#include "time-util.h"
#include "worker.h"

/* The leave request is recorded from the thread itself, before it is sent: a job that got that far is
 * not flashed again after a crash. */

#define PROGRESS_INTERVAL_USEC (100 * USEC_PER_MSEC)

static JobState phase_to_state(const Job *j, DfusePhase p) {
        switch (p) {
        case DFUSE_PHASE_WRITE:
                return JOB_WRITING;
        case DFUSE_PHASE_VERIFY:
                return JOB_VERIFYING;
        case DFUSE_PHASE_LEAVE:
                return JOB_LEAVING;
        case DFUSE_PHASE_DONE:
                /* A job that stays in the bootloader never passes through "leaving". */
                return j->plan && j->plan->leave ? JOB_LEAVING : j->state;
        default:
                return JOB_ERASING;
        }
}

void worker_progress(const DfuseProgress *p, void *userdata) {
        Job *j = userdata;
        bool phase_changed, record_leave = false;

        pthread_mutex_lock(&j->lock);
        phase_changed = p->phase != j->shared.phase;
        if (phase_changed)
                j->shared.phase_start_usec = now_monotonic_usec();
        j->shared.phase = p->phase;
        j->shared.phase_done = p->bytes_done;
        j->shared.phase_total = p->bytes_total;
        j->shared.sectors_done = p->sectors_done;
        j->shared.sectors_total = p->sectors_total;
        if (p->phase == DFUSE_PHASE_WRITE)
                j->shared.bytes_written = p->bytes_done;
        j->shared.dirty = true;
        if (p->phase == DFUSE_PHASE_LEAVE && !j->shared.leave_requested)
                j->shared.leave_requested = record_leave = true;
        pthread_mutex_unlock(&j->lock);

        if (record_leave) {
                int r = store_job_leave(j->manager->store, j->id, j->manager->clock_realtime());
                if (r < 0)
                        log_warning_errno(r, "Failed to record the leave request of job %" PRIu32 ": %m",
                                          j->id);
        }
        if (phase_changed)
                tasks_wake(j->manager);
}

int worker_run_engine(Job *j) {
        _cleanup_(dfuse_closep) DfuseDevice *dev = NULL;
        int r;

        /* A libusb context of the job's own: with one shared context every synchronous transfer of
         * every board contends for its single event lock, which cost 1.35x instead of 1.12x makespan
         * at 32 boards (bench/daemon-boards). */
        r = dfuse_open(NULL, j->port_path, &dev, &j->worker_error);
        if (r < 0)
                return r;
        r = protect_before_plan(j, dev);
        if (r != 0)
                return r == PROTECT_JOB_DONE ? 0 : r;
        r = dfuse_execute(dev, j->plan, worker_progress, j, &j->cancel, &j->stats, &j->worker_error);
        if (r < 0)
                return protect_explain_failure(j, r);
        return protect_after_plan(j, dev);
}

static void worker_run(void *userdata) {
        Job *j = userdata;
        j->result = j->manager->run_job(j);
}

/* Publishes the engine's latest progress: for running jobs on each tick, and once more from
 * worker_done(), after the thread ended, so that its last report (phase "done") is never lost. */
static void job_flush_progress(Job *j) {
        JobShared s;
        uint64_t now = now_monotonic_usec();

        pthread_mutex_lock(&j->lock);
        s = j->shared;
        j->shared.dirty = false;
        pthread_mutex_unlock(&j->lock);
        if (!s.dirty)
                return;

        JobState state = phase_to_state(j, s.phase);
        uint64_t elapsed = now > s.phase_start_usec ? now - s.phase_start_usec : 0;
        ProgressEstimate e;

        /* BytesDone/BytesTotal speak of the image being written, whatever the phase: a client showing
         * "written" at the end must not see the leave phase's zero. Rate stays the current phase's. */
        if (s.phase == DFUSE_PHASE_WRITE)
                j->bytes_done = MIN(s.phase_done, j->bytes_total);
        else if (s.phase > DFUSE_PHASE_WRITE)
                j->bytes_done = j->bytes_total;
        j->rate = elapsed > 0 ? s.phase_done * USEC_PER_SEC / elapsed : 0;
        j->has_phase = true;
        j->phase = s.phase;
        j->phase_done = s.phase == DFUSE_PHASE_ERASE ? s.sectors_done : s.phase_done;
        j->phase_total = s.phase == DFUSE_PHASE_ERASE ? s.sectors_total : s.phase_total;
        progress_estimate(j->plan, &(ProgressSample){s.phase, s.phase_done, s.phase_total, elapsed}, &e);
        j->progress = e.progress;
        j->expected_end_usec = j->manager->clock_realtime() + e.remaining_usec;

        j->state = state;
        manager_emit_job_changed(j->manager, j,
                                 (const char *const[]){"State", "Progress", "BytesDone", "BytesTotal",
                                                       "Rate", "ExpectedEndTime", "Phase", "PhaseDone",
                                                       "PhaseTotal", NULL});
}

void worker_flush_all(Manager *m) {
        LIST_FOREACH (jobs, j, m->jobs)
                if (j->running)
                        job_flush_progress(j);
}

static int on_progress_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        worker_flush_all(m);
        if (m->n_running > 0) {
                (void)sd_event_source_set_time_relative(s, PROGRESS_INTERVAL_USEC);
                (void)sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        }
        return 0;
}

static void worker_done(Manager *m, void *userdata) {
        Job *j = userdata;
        Device *d;

        j->running = false;
        m->n_running--;
        if (m->exiting)
                return;
        if (j->result == PROTECT_BOARD_RETURNS) {
                if (!atomic_load(&j->cancel))
                        return protect_await_return(j);
                j->result = -ECANCELED;
        }

        job_flush_progress(j);
        /* What reached the board, not the last progress tick. */
        pthread_mutex_lock(&j->lock);
        j->bytes_done = MIN(MAX(j->stats.bytes_written, j->shared.bytes_written), j->bytes_total);
        pthread_mutex_unlock(&j->lock);
        d = device_find(m, j->port_path);
        if (d && d->current_job == j) {
                d->current_job = NULL;
                if (j->result >= 0 && (j->shared.leave_requested || (j->plan && j->plan->leave)))
                        device_mark_left(d);
                manager_emit_device_changed(m, d, NULL);
        }
        if (j->result >= 0)
                job_finish(j, JOB_DONE, NULL);
        else if (j->result == -ECANCELED || atomic_load(&j->cancel))
                job_finish(j, JOB_CANCELLED, "Cancelled.");
        else
                job_finish(j, JOB_FAILED, dfu_error_message(&j->worker_error));
}

/* The engine's thread takes over: from here on the job is running on its board. */
static int worker_launch(Job *j, Device *d) {
        Manager *m = j->manager;
        int r;

        /* From here on only the plan is needed: with 32 boards busy, the copies would add up. */
        j->image = image_free(j->image);
        if (j->report)
                j->report->kept = image_free(j->report->kept);

        j->running = true;
        m->n_running++;
        d->current_job = j;
        r = tasks_start(m, worker_run, worker_done, j);
        if (r < 0) {
                j->running = false;
                m->n_running--;
                d->current_job = NULL;
                return r;
        }
        log_info("Job %" PRIu32 " started on port %s.", j->id, d->port_path);
        j->state = JOB_ERASING;
        manager_emit_job_changed(m, j,
                                 (const char *const[]){"State", "Device", "PortPath", "StartTime",
                                                       "ExpectedEndTime", "Report", "BytesTotal", "Values",
                                                       NULL});
        manager_emit_device_changed(m, d, NULL);

        if (!m->progress_timer) {
                r = sd_event_add_time_relative(m->event, &m->progress_timer, CLOCK_MONOTONIC,
                                               PROGRESS_INTERVAL_USEC, 10 * USEC_PER_MSEC, on_progress_timer,
                                               m);
                if (r < 0)
                        log_warning_errno(r, "Failed to start the progress timer: %m");
        } else {
                (void)sd_event_source_set_time_relative(m->progress_timer, PROGRESS_INTERVAL_USEC);
                (void)sd_event_source_set_enabled(m->progress_timer, SD_EVENT_ONESHOT);
        }
        return 0;
}

/* Renders each patch's value and puts it in the plan; -ERANGE/-EINVAL with the reason in error. */
static int worker_apply_values(Job *j, DfuError *error) {
        _cleanup_free_ Patch *patches = NULL;
        uint8_t buf[PATCH_WIDTH_MAX];
        size_t n;
        int r;

        r = job_options_patches(&j->opts, &patches, &n);
        if (r < 0)
                return dfu_error_set(error, -r, "The job's patches are unreadable.");
        for (size_t i = 0; i < n; i++) {
                const char *value = NULL;
                for (char **v = j->values; v && v[0] && v[1] && !value; v += 2)
                        if (streq(v[0], patches[i].sequence))
                                value = v[1];
                if (!value)
                        return dfu_error_set(error, ENOENT, "No value was taken from sequence %s.",
                                             patches[i].sequence);
                r = patch_render(&patches[i], value, buf, error);
                if (r < 0)
                        return r;
                if (plan_overwrite(j->plan, patches[i].address, buf, patches[i].width) < 0)
                        return dfu_error_set(error, EINVAL,
                                             "The patch at 0x%08" PRIX32 " is not in what the plan writes.",
                                             patches[i].address);
        }
        return 0;
}

static void worker_allocated(int result, const StoreValue *values, size_t n, const char *exhausted,
                             void *userdata) {
        DfuError error = DFU_ERROR_INIT;
        Job *j = userdata;
        Manager *m = j->manager;
        Device *d;
        int r;

        if (m->exiting)
                return;
        j->allocating = false;
        m->n_running--;
        d = device_find(m, j->port_path);
        if (d && d->current_job == j) {
                d->current_job = NULL;
                manager_emit_device_changed(m, d, NULL);
        }
        /* -ENOSPC is a full disk too: only a named sequence ran out. */
        if (result == -ENOSPC && exhausted) {
                (void)dfu_error_set(&error, ENOSPC, "Sequence %s is exhausted.", exhausted);
                log_warning("Job %" PRIu32 ": %s", j->id, error.message);
                /* Every later board of the rule would fail the same way. */
                Rule *rule = j->rule_id ? rule_find(m, j->rule_id) : NULL;
                if (rule)
                        rule_stop_for_sequence(rule, exhausted);
                return job_finish(j, JOB_FAILED, error.message);
        }
        if (result < 0) {
                log_error_errno(result, "Failed to take the values of job %" PRIu32 ": %m", j->id);
                return job_finish(j, JOB_FAILED, "Failed to take values from the sequences.");
        }
        for (size_t i = 0; i < n; i++)
                if (strv_extend(&j->values, values[i].sequence) < 0 ||
                    strv_extend(&j->values, values[i].value) < 0) {
                        log_oom();
                        return job_finish(j, JOB_FAILED, "Out of memory.");
                }
        sequence_values_taken(m, values, n);
        log_info("Job %" PRIu32 " took %zu value(s).", j->id, n);

        /* Whatever fails from here on failed before anything was written: the values go back. */
        if (atomic_load(&j->cancel))
                return job_finish(j, JOB_CANCELLED, "Cancelled.");
        if (!d)
                return job_finish(j, JOB_FAILED, "The board went away before anything was written.");
        r = worker_apply_values(j, &error);
        if (r < 0)
                return job_finish(j, JOB_FAILED, dfu_error_message(&error));
        r = worker_launch(j, d);
        if (r < 0) {
                log_error_errno(r, "Failed to start job %" PRIu32 ": %m", j->id);
                job_finish(j, JOB_FAILED, "Failed to start a worker thread.");
        }
}

int worker_start(Job *j, Device *d) {
        Manager *m = j->manager;
        int r;

        if (free(j->port_path), !(j->port_path = strdup(d->port_path)))
                return -ENOMEM;
        free(j->serial);
        j->serial = d->serial ? strdup(d->serial) : NULL;
        free(j->station);
        j->station = d->station ? strdup(d->station) : NULL;
        if ((d->serial && !j->serial) || (d->station && !j->station))
                return -ENOMEM;
        j->start_usec = m->clock_realtime();
        if (j->plan && j->plan->estimate_ms > 0)
                j->expected_end_usec = j->start_usec + j->plan->estimate_ms * USEC_PER_MSEC;
        j->shared = (JobShared){.phase = DFUSE_PHASE_CONNECT, .phase_start_usec = now_monotonic_usec()};
        j->timeout_source = sd_event_source_disable_unref(j->timeout_source);
        StoreJobStart start = {.id = j->id,
                               .start_usec = j->start_usec,
                               .port = j->port_path,
                               .serial = j->serial,
                               .station = j->station};

        if (j->opts.patches) {
                _cleanup_strv_free_ char **sequences = NULL;

                /* The values are taken in the start record's transaction; the engine starts once both
                 * are durable. Meanwhile the board is this job's and the job counts as running. */
                j->values = strv_free(j->values);
                r = job_options_sequences(&j->opts, &sequences);
                if (r < 0)
                        return r;
                r = store_job_start_allocate(m->store, &start, sequences, worker_allocated, j);
                if (r < 0)
                        return r;
                j->allocating = true;
                m->n_running++;
                d->current_job = j;
                manager_emit_device_changed(m, d, NULL);
                return 0;
        }

        r = store_job_start(m->store, &start, NULL, NULL);
        if (r < 0)
                log_warning_errno(r, "Failed to record the start of job %" PRIu32 ": %m", j->id);
        return worker_launch(j, d);
}
