/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "image-set.h"
#include "job.h"
#include "journal.h"
#include "log.h"
#include "manager.h"
#include "prepare.h"
#include "queue.h"
#include "rule.h"
#include "sequence.h"
#include "spool-refs.h"
#include "tasks.h"
#include "time-util.h"

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

int job_new(Manager *m, uint32_t id, Job **ret) {
        Job *j = calloc(1, sizeof(Job));

        if (!j)
                return -ENOMEM;
        job_options_init(&j->opts);
        pthread_mutex_init(&j->lock, NULL);
        j->id = id;
        j->manager = m;
        j->submit_usec = m->clock_realtime();
        LIST_APPEND(jobs, m->jobs, j);
        m->n_jobs++;
        if (id >= m->next_job_id)
                m->next_job_id = id + 1;
        *ret = j;
        return 0;
}

int job_hold_images(Job *j) {
        int r = spool_refs_hold(j->manager, j->image_hashes);
        if (r >= 0)
                j->images_held = true;
        return r;
}

static void job_release_images(Job *j) {
        if (!j->images_held)
                return;
        j->images_held = false;
        spool_refs_release(j->manager, j->image_hashes);
}

Job *job_free(Job *j) {
        Manager *m;

        if (!j)
                return NULL;
        m = j->manager;
        job_release_images(j);
        LIST_REMOVE(jobs, m->jobs, j);
        m->n_jobs--;
        if (j->lingering)
                m->n_lingering--;
        LIST_FOREACH (devices, d, m->devices)
                if (d->current_job == j)
                        d->current_job = NULL;
        sd_event_source_disable_unref(j->timeout_source);
        sd_event_source_disable_unref(j->linger_source);
        job_options_done(&j->opts);
        image_free(j->image);
        strv_free(j->image_hashes);
        sanitize_report_free(j->report);
        plan_free(j->plan);
        free(j->image_sha256);
        free(j->trust);
        free(j->protection_done);
        free(j->option_bytes_note);
        sd_event_source_disable_unref(j->return_source);
        free(j->target);
        free(j->port_path);
        free(j->serial);
        free(j->station);
        free(j->error);
        strv_free(j->values);
        pthread_mutex_destroy(&j->lock);
        free(j);
        return NULL;
}

Job *job_find(Manager *m, uint32_t id) {
        LIST_FOREACH (jobs, j, m->jobs)
                if (j->id == id)
                        return j;
        return NULL;
}

int job_prepare(Job *j, const Device *d, DfuError *error) {
        _cleanup_(memmap_freep) MemMap *part_map = NULL;
        _cleanup_(sanitize_report_freep) SanitizeReport *report = NULL;
        _cleanup_(plan_freep) Plan *plan = NULL;
        PrepareTarget t;
        int r;

        if (d)
                prepare_target_from_device(d, &t);
        else {
                /* A waiting job is checked against the part the caller named; the board's own map
                 * decides later. */
                r = prepare_target_from_part(j->opts.part ? part_find(j->opts.part) : NULL, &part_map, &t,
                                             error);
                if (r < 0)
                        return r;
        }
        r = prepare_image(j->image, &j->opts, &t, j->manager->config.default_verify, &report, &plan, error);
        if (report) {
                sanitize_report_free(j->report);
                j->report = TAKE_PTR(report);
        }
        if (r < 0)
                return r;
        plan_free(j->plan);
        j->plan = TAKE_PTR(plan);
        j->part = t.part;
        j->bytes_total = j->plan->bytes_total;
        return 0;
}

void job_set_state(Job *j, JobState s) {
        if (j->state == s)
                return;
        j->state = s;
        manager_emit_job_changed(j->manager, j, (const char *const[]){"State", NULL});
}

typedef struct JobLoad {
        Job *job;
        JobLoadedFn done;
        Spool *spool;
        uint64_t size_cap;
        JobOptions opts;
        char **hashes;
        Image *image;
        DfuError error;
        int result;
} JobLoad;

static JobLoad *job_load_free(JobLoad *l) {
        if (!l)
                return NULL;
        job_options_done(&l->opts);
        strv_free(l->hashes);
        image_free(l->image);
        return mfree(l);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(JobLoad *, job_load_free);

/* On the thread: only the copies in the JobLoad are touched, never the job. */
static void job_load_run(void *userdata) {
        JobLoad *l = userdata;
        l->result = image_set_load_spooled(l->spool, l->size_cap, l->hashes, &l->opts, &l->image, &l->error);
}

static void job_load_done(Manager *m, void *userdata) {
        _cleanup_(job_load_freep) JobLoad *l = userdata;

        if (m->exiting)
                return;
        if (l->result >= 0) {
                image_free(l->job->image);
                l->job->image = TAKE_PTR(l->image);
        }
        l->done(l->job, l->result, &l->error);
}

int job_load_images(Job *j, JobLoadedFn done) {
        Manager *m = j->manager;
        _cleanup_(job_load_freep) JobLoad *l = calloc(1, sizeof(JobLoad));
        int r;

        if (!l)
                return -ENOMEM;
        job_options_init(&l->opts);
        l->job = j;
        l->done = done;
        l->size_cap = m->config.image_size_cap;
        l->spool = m->spool;
        l->hashes = strv_copy(j->image_hashes);
        if (!l->hashes)
                return -ENOMEM;
        r = job_options_copy(&j->opts, &l->opts);
        if (r < 0)
                return r;
        r = tasks_start(m, job_load_run, job_load_done, l);
        if (r < 0)
                return r;
        TAKE_PTR(l);
        return 0;
}

typedef struct JobSubmit {
        Job *job;
        JobRecordedFn done;
        void *userdata;
} JobSubmit;

static void job_submit_recorded(int result, void *userdata) {
        JobSubmit *s = userdata;
        Job *j = s->job;
        Manager *m = j->manager;
        JobRecordedFn done = s->done;
        void *done_userdata = s->userdata;
        int r;

        free(s);
        if (m->exiting)
                return;
        if (result < 0) {
                log_error_errno(result, "Failed to record job %" PRIu32 ": %m", j->id);
                if (done)
                        done(j, result, done_userdata);
                job_free(j);
                return;
        }
        j->accepted = true;
        /* The caller hears of the job before anything happens to it. */
        if (done)
                done(j, 0, done_userdata);
        r = queue_add(m, j);
        if (r < 0)
                log_error_errno(r, "Failed to queue job %" PRIu32 ": %m", j->id);
}

int job_submit(Job *j, JobRecordedFn done, void *userdata) {
        _cleanup_free_ char *options = NULL;
        JobSubmit *s;
        int r;

        r = job_options_to_json_string(&j->opts, &options);
        if (r < 0)
                return r;
        s = malloc(sizeof(JobSubmit));
        if (!s)
                return -ENOMEM;
        *s = (JobSubmit){j, done, userdata};
        r = store_job_submit(j->manager->store,
                             &(StoreJobSubmit){
                                     .id = j->id,
                                     .owner = (uint32_t)j->owner,
                                     .submit_usec = j->submit_usec,
                                     .target = j->target,
                                     .options_json = options,
                                     .image_hashes = j->image_hashes,
                                     .rule_id = j->rule_id,
                             },
                             job_submit_recorded, s);
        if (r < 0)
                free(s);
        return r;
}

static void job_remove(Job *j) {
        Manager *m = j->manager;

        MANAGER_EMIT(m, job_removed, j);
        job_free(j);
        manager_emit_changed(m, "Jobs");
}

static int on_linger(sd_event_source *s, uint64_t usec, void *userdata) {
        job_remove(userdata);
        return 0;
}

/* Ended jobs stay visible for JobLinger, but never more than MaxLingeringJobs of them. */
static void job_linger(Job *j) {
        Manager *m = j->manager;
        int r;

        j->lingering = true;
        m->n_lingering++;
        while (m->n_lingering > m->config.max_lingering_jobs) {
                Job *oldest = NULL;
                LIST_FOREACH (jobs, o, m->jobs)
                        if (o->lingering) {
                                oldest = o;
                                break;
                        }
                if (!oldest)
                        break;
                job_remove(oldest);
                if (oldest == j)
                        return;
        }
        r = sd_event_add_time_relative(m->event, &j->linger_source, CLOCK_MONOTONIC,
                                       m->config.job_linger_usec, USEC_PER_MSEC, on_linger, j);
        if (r < 0)
                log_warning_errno(r, "Failed to schedule removal of job %" PRIu32 ": %m", j->id);
}

uint64_t job_dropped_segments(const Job *j) {
        uint64_t n = 0;
        for (size_t i = 0; j->report && i < j->report->n_verdicts; i++)
                n += j->report->verdicts[i].verdict == VERDICT_DROP;
        return n;
}

StoreValuesEnd job_values_end(const Job *j, JobState s) {
        if (s == JOB_DONE)
                return STORE_VALUES_USED;
        /* A value reaches flash only in the write phase: a job that failed before never wrote it. The
         * worker thread has ended when a started job finishes, so shared needs no lock here. */
        if (j->shared.phase >= DFUSE_PHASE_WRITE || j->stats.bytes_written > 0)
                return STORE_VALUES_SPOILED;
        return STORE_VALUES_RETURNED;
}

/* The end record is on disk: now the outcome may be told. */
static void job_finish_recorded(int result, void *userdata) {
        Job *j = userdata;
        Manager *m = j->manager;

        if (result < 0)
                log_error_errno(result, "Failed to record the end of job %" PRIu32 ": %m", j->id);
        if (m->exiting)
                return;
        j->state = j->final_state;
        j->finishing = false;
        journal_job_finished(j, job_dropped_segments(j));

        LIST_FOREACH (devices, d, m->devices)
                if (d->current_job == j) {
                        d->current_job = NULL;
                        manager_emit_device_changed(m, d, NULL);
                }
        Device *board = j->port_path ? device_find(m, j->port_path) : NULL;
        if (board)
                device_job_ended(board, j);
        rule_job_finished(m, j);
        job_release_images(j);

        manager_emit_job_changed(m, j,
                                 (const char *const[]){"State", "Progress", "BytesDone", "EndTime", "Error",
                                                       "Protection", NULL});
        MANAGER_EMIT(m, job_completed, j);
        log_info("Job %" PRIu32 " %s%s%s", j->id, job_state_to_string(j->state), j->error ? ": " : ".",
                 j->error ? j->error : "");

        job_linger(j);
        queue_dispatch(m);
        manager_check_drained(m);
}

void job_finish(Job *j, JobState s, const char *error) {
        Manager *m = j->manager;
        int r;

        if (job_state_is_final(j->state) || j->finishing)
                return;
        j->finishing = true;
        j->final_state = s;
        j->end_usec = m->clock_realtime();
        free(j->error);
        j->error = error ? strdup(error) : NULL;
        if (error && !j->error)
                log_oom();
        j->timeout_source = sd_event_source_disable_unref(j->timeout_source);
        if (s == JOB_DONE) {
                j->progress = 1.0;
                j->bytes_done = j->bytes_total;
        }
        /* The plan holds a copy of every byte written; a finished job lingering on the bus needs none. */
        if (!j->running)
                j->plan = plan_free(j->plan);

        StoreValuesEnd values_end = job_values_end(j, s);
        if (j->values)
                sequence_values_settled(m, j->values, values_end);

        /* The record is on disk before anyone hears of the outcome. */
        r = store_job_end(m->store,
                          &(StoreJobEnd){
                                  .id = j->id,
                                  .result = job_state_to_string(s),
                                  .error = j->error,
                                  .port = j->port_path,
                                  .serial = j->serial,
                                  .station = j->station,
                                  .target = j->target,
                                  .image_sha256 = j->image_sha256,
                                  .submit_usec = j->submit_usec,
                                  .start_usec = j->start_usec,
                                  .end_usec = j->end_usec,
                                  .bytes = j->stats.bytes_written,
                                  .dropped_segments = job_dropped_segments(j),
                                  .interrupted = j->interrupted,
                                  .rule_id = j->rule_id,
                                  .trust = j->trust,
                                  .protection = j->protection_done,
                                  .values_end = values_end,
                          },
                          job_finish_recorded, j);
        if (r < 0)
                job_finish_recorded(r, j);
}

int job_cancel(Job *j) {
        if (job_state_is_final(j->state) || j->finishing)
                return -EALREADY;
        if (j->running || j->allocating) {
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
        return sd_event_add_time_relative(j->manager->event, &j->timeout_source, CLOCK_MONOTONIC, usec,
                                          USEC_PER_MSEC * 10, on_timeout, j);
}
