/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "log.h"

static const char *const job_state_table[_JOB_STATE_MAX] = {
        [JOB_QUEUED] = "queued",   [JOB_WAITING] = "waiting",     [JOB_ERASING] = "erasing",
        [JOB_WRITING] = "writing", [JOB_VERIFYING] = "verifying", [JOB_LEAVING] = "leaving",
        [JOB_DONE] = "done",       [JOB_FAILED] = "failed",       [JOB_CANCELLED] = "cancelled",
};

const char *job_state_to_string(JobState s) {
        return s >= 0 && s < _JOB_STATE_MAX ? job_state_table[s] : "unknown";
}

bool job_state_is_final(JobState s) {
        return s == JOB_DONE || s == JOB_FAILED || s == JOB_CANCELLED;
}

int job_new(Context *ctx, uint32_t id, Job **ret) {
        Job *j = calloc(1, sizeof(Job));

        if (!j)
                return -ENOMEM;
        job_options_init(&j->opts);
        pthread_mutex_init(&j->lock, NULL);
        j->id = id;
        if (bus_object_path_new(DFUSD_JOB_PREFIX, id, &j->object_path) < 0) {
                free(j);
                return -ENOMEM;
        }
        j->ctx = ctx;
        j->submit_usec = now_realtime_usec();
        LIST_APPEND(jobs, ctx->jobs, j);
        ctx->n_jobs++;
        if (id >= ctx->next_job_id)
                ctx->next_job_id = id + 1;
        *ret = j;
        return 0;
}

Job *job_free(Job *j) {
        if (!j)
                return NULL;
        if (j->ctx) {
                LIST_REMOVE(jobs, j->ctx->jobs, j);
                j->ctx->n_jobs--;
                LIST_FOREACH (devices, d, j->ctx->devices)
                        if (d->current_job == j)
                                d->current_job = NULL;
        }
        sd_event_source_disable_unref(j->timeout_source);
        sd_event_source_disable_unref(j->linger_source);
        sd_bus_message_unref(j->submit_call);
        job_options_done(&j->opts);
        image_free(j->image);
        strv_free(j->image_hashes);
        sanitize_report_free(j->report);
        plan_free(j->plan);
        free(j->image_sha256);
        free(j->target);
        free(j->port_path);
        free(j->serial);
        free(j->station);
        free(j->device_path);
        free(j->error);
        free(j->object_path);
        pthread_mutex_destroy(&j->lock);
        free(j);
        return NULL;
}

Job *job_find(Context *ctx, uint32_t id) {
        LIST_FOREACH (jobs, j, ctx->jobs)
                if (j->id == id)
                        return j;
        return NULL;
}

/*
 * Sanitizes the job's image against a memory map and builds the plan. A rejected image returns
 * -EMEDIUMTYPE with the reason in error; the report stays on the job either way.
 */
static int job_prepare_map(Job *j, const MemMap *map, uint16_t transfer_size, const PartInfo *part,
                           bool default_verify, DfuError *error) {
        _cleanup_(sanitize_report_freep) SanitizeReport *report = NULL;
        _cleanup_(plan_freep) Plan *plan = NULL;
        SanitizeOptions so;
        PlanOptions po;
        int r;

        job_options_sanitize(&j->opts, &so);
        r = sanitize_image(j->image, map, &so, &report, error);
        if (r < 0)
                return r;
        sanitize_report_free(j->report);
        j->report = TAKE_PTR(report);
        if (j->report->rejected)
                return dfu_error_set(error, EMEDIUMTYPE, "%s",
                                     j->report->reject_reason ? j->report->reject_reason : "image rejected");
        if (map->n_layouts == 0)
                return dfu_error_set(error, EMEDIUMTYPE, "The board reports no memory map.");

        job_options_plan(&j->opts, default_verify, &po);
        r = plan_build(j->report->kept, &map->layouts[0], transfer_size, part, &po, &plan, error);
        if (r < 0)
                return r == -ENOMEM ? r : dfu_error_set(error, EMEDIUMTYPE, "%s", dfu_error_message(error));
        plan_free(j->plan);
        j->plan = TAKE_PTR(plan);
        j->bytes_total = j->plan->bytes_total;
        return 0;
}

int job_prepare(Job *j, const Device *d, bool default_verify, DfuError *error) {
        if (d) {
                /* A DfuSe file names the device it was made for; 0xFFFF means any. */
                if (j->image->suffix_vid && j->image->suffix_vid != 0xFFFF &&
                    (j->image->suffix_vid != d->vid ||
                     (j->image->suffix_pid != 0xFFFF && j->image->suffix_pid != d->pid)))
                        return dfu_error_set(
                                error, EMEDIUMTYPE,
                                "%s is made for USB device %04x:%04x, the board on port %s is %04x:%04x.",
                                j->image->name ? j->image->name : "The image", j->image->suffix_vid,
                                j->image->suffix_pid, d->port_path, d->vid, d->pid);
                j->part = d->part;
                return job_prepare_map(j, d->map, d->transfer_size, d->part, default_verify, error);
        }

        /* A waiting job is checked against the part the caller named; the board's own map decides later. */
        const PartInfo *part = j->opts.part ? part_find(j->opts.part) : NULL;
        _cleanup_(memmap_freep) MemMap *map = NULL;
        int r;

        if (!part)
                return dfu_error_set(error, EINVAL, "No board to check the image against: name the part.");
        r = part_memmap(part, &map, error);
        if (r < 0)
                return r;
        j->part = part;
        return job_prepare_map(j, map, part->transfer_size, part, default_verify, error);
}

bool job_matches_device(const Job *j, const Device *d) {
        if (!d->published || d->failed || d->left || d->current_job)
                return false;
        if (j->opts.port)
                return streq(j->opts.port, d->port_path);
        if (j->opts.serial)
                return d->serial && streq(j->opts.serial, d->serial) && !d->serial_duplicated;
        if (j->opts.station)
                return d->station && streq(j->opts.station, d->station);
        if (j->opts.part && d->part && !streq(j->opts.part, d->part->name))
                return false;
        return j->opts.any;
}

void job_set_state(Job *j, JobState s) {
        if (j->state == s)
                return;
        j->state = s;
        (void)bus_job_emit_changed(j, (const char *[]){"State", NULL});
}

static int on_linger(sd_event_source *s, uint64_t usec, void *userdata) {
        Job *j = userdata;
        Context *ctx = j->ctx;

        (void)bus_job_remove(j, job_state_to_string(j->state));
        job_free(j);
        (void)bus_manager_emit_changed(ctx, "Jobs");
        return 0;
}

static uint64_t job_dropped_segments(const Job *j) {
        uint64_t n = 0;
        for (size_t i = 0; j->report && i < j->report->n_verdicts; i++)
                n += j->report->verdicts[i].verdict == VERDICT_DROP;
        return n;
}

/* The end record is on disk: now the outcome may be told. */
static void job_finish_recorded(Context *ctx, int result, void *userdata) {
        Job *j = userdata;
        int r;

        if (result < 0)
                log_error_errno(result, "Failed to record the end of job %" PRIu32 ": %m", j->id);
        if (ctx->exiting)
                return;
        j->state = j->final_state;
        journal_job_finished(j, job_dropped_segments(j));

        LIST_FOREACH (devices, d, ctx->devices)
                if (d->current_job == j) {
                        d->current_job = NULL;
                        (void)bus_device_emit_changed(d, NULL);
                }
        rules_job_finished(ctx, j);
        spool_release(ctx, j->image_hashes);

        (void)bus_job_emit_changed(
                j, (const char *[]){"State", "Progress", "BytesDone", "EndTime", "Error", NULL});
        (void)bus_job_emit_completed(j);
        log_info("Job %" PRIu32 " %s%s%s", j->id, job_state_to_string(j->state), j->error ? ": " : ".",
                 j->error ? j->error : "");

        r = sd_event_add_time_relative(ctx->event, &j->linger_source, CLOCK_MONOTONIC,
                                       ctx->config.job_linger_usec, USEC_PER_MSEC, on_linger, j);
        if (r < 0)
                log_warning_errno(r, "Failed to schedule removal of job %" PRIu32 ": %m", j->id);
        queue_dispatch(ctx);
        notify_status(ctx);
}

void job_finish(Job *j, JobState s, const char *error) {
        Context *ctx = j->ctx;
        int r;

        if (job_state_is_final(j->state) || j->finishing)
                return;
        j->finishing = true;
        j->final_state = s;
        j->end_usec = now_realtime_usec();
        free(j->error);
        j->error = error ? strdup(error) : NULL;
        j->timeout_source = sd_event_source_disable_unref(j->timeout_source);
        if (s == JOB_DONE) {
                j->progress = 1.0;
                j->bytes_done = j->bytes_total;
        }
        /* The plan holds a copy of every byte written; a finished job lingering on the bus needs none. */
        if (!j->running)
                j->plan = plan_free(j->plan);

        /* The record is on disk before anyone hears of the outcome. */
        r = store_record_end(ctx, j, s, job_dropped_segments(j), job_finish_recorded, j);
        if (r < 0)
                job_finish_recorded(ctx, r, j);
}

int job_cancel(Job *j) {
        if (job_state_is_final(j->state) || j->finishing)
                return -EALREADY;
        if (j->running) {
                atomic_store(&j->cancel, true);
                return 0;
        }
        job_finish(j, JOB_CANCELLED, "Cancelled before it started.");
        return 0;
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Job *j = userdata;
        char msg[128];

        if (j->running || j->finishing || job_state_is_final(j->state))
                return 0;
        (void)snprintf(msg, sizeof(msg), "No matching board appeared within %" PRIu64 " s.",
                       j->opts.timeout_sec);
        job_finish(j, JOB_FAILED, msg);
        return 0;
}

int job_arm_timeout(Job *j) {
        if (j->opts.timeout_sec == 0 || j->timeout_source)
                return 0;
        uint64_t usec = j->opts.timeout_sec > UINT64_MAX / USEC_PER_SEC ? UINT64_MAX - 1
                                                                        : j->opts.timeout_sec * USEC_PER_SEC;
        return sd_event_add_time_relative(j->ctx->event, &j->timeout_source, CLOCK_MONOTONIC, usec,
                                          USEC_PER_MSEC * 10, on_timeout, j);
}
