/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "device.h"
#include "image-set.h"
#include "job.h"
#include "log.h"
#include "manager.h"
#include "queue.h"
#include "rule.h"
#include "sequence.h"
#include "spool-refs.h"
#include "tasks.h"
#include "time-util.h"
#include "worker.h"

#define PRUNE_INTERVAL_USEC (3600 * USEC_PER_SEC)

int manager_new(sd_event *event, Manager **ret) {
        Manager *m = calloc(1, sizeof(Manager));

        if (!m)
                return -ENOMEM;
        m->event = sd_event_ref(event);
        m->wake_fd = -EBADF;
        m->next_job_id = 1;
        m->next_rule_id = 1;
        m->run_job = worker_run_engine;
        m->clock_realtime = now_realtime_usec;
        pthread_mutex_init(&m->tasks_lock, NULL);
        config_init(&m->config);
        *ret = m;
        return 0;
}

void manager_stop(Manager *m) {
        m->exiting = true;
        atomic_store(&m->stopping, true);
        LIST_FOREACH (jobs, j, m->jobs)
                if (j->running)
                        atomic_store(&j->cancel, true);
}

void manager_boards_known(Manager *m) {
        m->boards_known = true;
        queue_dispatch(m);
}

void manager_drain(Manager *m) {
        m->draining = true;
        manager_check_drained(m);
}

void manager_check_drained(Manager *m) {
        if (!m->draining || m->exiting)
                return;
        LIST_FOREACH (jobs, j, m->jobs)
                if (j->running || j->allocating || j->finishing)
                        return;
        log_error("Running jobs are recorded; exiting so that the service manager restarts dfusd.");
        (void)sd_event_exit(m->event, -ENOTCONN);
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;

        /* Workers stop between two transfers; their jobs stay unfinished in the store. */
        manager_stop(m);
        tasks_join_all(m);
        m->store = store_close(m->store);

        LIST_FOREACH_SAFE(jobs, j, n, m->jobs)
        job_free(j);
        LIST_FOREACH_SAFE(rules, r, n, m->rules)
        rule_free(r);
        LIST_FOREACH_SAFE(sequences, q, n, m->sequences)
        sequence_free(q);
        LIST_FOREACH_SAFE(devices, d, n, m->devices)
        device_free(d);
        /* After the jobs and rules: they let go of their files as they go. */
        m->spool = spool_free(m->spool);

        sd_event_source_disable_unref(m->progress_timer);
        sd_event_source_disable_unref(m->prune_timer);
        sd_event_source_disable_unref(m->wake_source);
        safe_close(m->wake_fd);
        sd_event_unref(m->event);
        pthread_mutex_destroy(&m->tasks_lock);
        config_done(&m->config);
        return mfree(m);
}

void manager_emit_changed(Manager *m, const char *property) {
        MANAGER_EMIT(m, manager_changed, property);
}

void manager_emit_device_changed(Manager *m, Device *d, const char *const *properties) {
        if (d->published)
                MANAGER_EMIT(m, device_changed, d, properties);
}

void manager_emit_job_changed(Manager *m, Job *j, const char *const *properties) {
        if (j->accepted)
                MANAGER_EMIT(m, job_changed, j, properties);
}

void manager_emit_rule_changed(Manager *m, Rule *r, const char *const *properties) {
        MANAGER_EMIT(m, rule_changed, r, properties);
}

int manager_status(const Manager *m, char **ret) {
        unsigned queued = 0;

        LIST_FOREACH (jobs, j, m->jobs)
                queued += j->state == JOB_QUEUED || j->state == JOB_WAITING;
        return asprintf(ret, "%u board(s), %u job(s) running, %u queued.", m->n_devices, m->n_running,
                        queued) < 0
                       ? -ENOMEM
                       : 0;
}

/* The groups of uid from the group database: the caller's credentials as the bus reports them carry
 * only its uid, and reading the rest from /proc would race with pid reuse. */
static bool uid_in_group(uid_t uid, const char *group) {
        _cleanup_free_ char *pwbuf = NULL, *grbuf = NULL;
        _cleanup_free_ gid_t *gids = NULL;
        struct passwd pw, *pwr = NULL;
        struct group gr, *grr = NULL;
        size_t pwlen = 1024, grlen = 1024;
        int n = 32, r;

        for (;;) {
                free(grbuf);
                if (!(grbuf = malloc(grlen)))
                        return false;
                r = getgrnam_r(group, &gr, grbuf, grlen, &grr);
                if (r != ERANGE || grlen > 1024 * 1024)
                        break;
                grlen *= 2;
        }
        if (r != 0 || !grr)
                return false;
        for (;;) {
                free(pwbuf);
                if (!(pwbuf = malloc(pwlen)))
                        return false;
                r = getpwuid_r(uid, &pw, pwbuf, pwlen, &pwr);
                if (r != ERANGE || pwlen > 1024 * 1024)
                        break;
                pwlen *= 2;
        }
        if (r != 0 || !pwr)
                return false;
        if (pw.pw_gid == gr.gr_gid)
                return true;
        for (;;) {
                int k = n;
                gid_t *ng = realloc(gids, sizeof(gid_t) * (size_t)n);
                if (!ng)
                        return false;
                gids = ng;
                if (getgrouplist(pw.pw_name, pw.pw_gid, gids, &k) >= 0) {
                        n = k;
                        break;
                }
                if (k <= n || k > 65536)
                        return false;
                n = k;
        }
        for (int i = 0; i < n; i++)
                if (gids[i] == gr.gr_gid)
                        return true;
        return false;
}

bool manager_uid_may_change(const Manager *m, uid_t uid) {
        if (uid == 0)
                return true;
        /* On the session bus the daemon runs as the user who owns that bus: that user may do anything. */
        if (m->user && uid == geteuid())
                return true;
        return uid_in_group(uid, m->config.group ? m->config.group : "dfusd");
}

/* A job that was queued or running when the daemon stopped: its images are read on a thread, then it
 * joins the queue as if just submitted. */
static void resume_loaded(Job *j, int result, const DfuError *error) {
        Manager *m = j->manager;

        m->resumes_pending--;
        j->accepted = true;
        if (result < 0) {
                /* Ended before the queue sees it; everyone hears of it as of any job. */
                job_finish(j, JOB_FAILED, dfu_error_message(error));
                (void)queue_add(m, j);
                return;
        }
        log_info("Resuming job %" PRIu32 "%s.", j->id, j->interrupted ? " (interrupted while running)" : "");
        (void)queue_add(m, j);
}

static int manager_resume_job(Manager *m, const StoreUnfinished *u) {
        Job *j;
        int r;

        r = job_new(m, u->id, &j);
        if (r < 0)
                return r;
        j->owner = (uid_t)u->owner;
        j->submit_usec = u->submit_usec;
        j->rule_id = u->rule_id;
        j->interrupted = u->started;
        if ((u->target && !(j->target = strdup(u->target))) ||
            !(j->image_hashes = strv_copy(u->image_hashes)) ||
            !(j->image_sha256 = image_set_sha256_summary(j->image_hashes)) || job_hold_images(j) < 0) {
                job_free(j);
                return -ENOMEM;
        }
        if (job_options_from_json_string(u->options_json, &j->opts) < 0)
                log_warning("Job %" PRIu32 ": its options could not be read back; resuming with defaults.",
                            j->id);

        if (u->leave) {
                /* It had written and verified everything and asked the board to leave: the flash is done. */
                j->accepted = true;
                j->state = JOB_LEAVING;
                j->start_usec = j->submit_usec;
                MANAGER_EMIT(m, job_added, j);
                job_finish(j, JOB_DONE, NULL);
                return 0;
        }
        r = job_load_images(j, resume_loaded);
        if (r < 0) {
                job_free(j);
                return r;
        }
        m->resumes_pending++;
        return 0;
}

static int manager_load_rule(Manager *m, const StoreRule *sr) {
        Rule *rule;
        int r;

        r = rule_new(m, sr->id, &rule);
        if (r < 0)
                return r;
        rule->owner = (uid_t)sr->owner;
        if (job_options_from_json_string(sr->options_json, &rule->opts) < 0 ||
            !(rule->image_hashes = strv_copy(sr->image_hashes)) ||
            !(rule->flashed = sr->flashed ? strv_copy(sr->flashed) : calloc(1, sizeof(char *))) ||
            !(rule->image_sha256 = image_set_sha256_summary(rule->image_hashes)) ||
            rule_hold_images(rule) < 0 || (sr->trust && !(rule->trust = strdup(sr->trust)))) {
                log_error("Dropping rule %" PRIu32 ": its record could not be read back.", sr->id);
                rule_free(rule);
                return 0;
        }
        MANAGER_EMIT(m, rule_added, rule);
        return 0;
}

static void prune_done(int result, void *userdata) {
        if (result < 0)
                log_warning_errno(result, "Failed to prune the job history: %m");
        else if (result > 0)
                log_info("Pruned %d job record(s) older than the retention period.", result);
}

static int on_prune(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        uint64_t now = m->clock_realtime();

        if (m->config.history_retention_usec < now)
                (void)store_prune(m->store, now - m->config.history_retention_usec, prune_done, NULL);
        (void)sd_event_source_set_time_relative(s, PRUNE_INTERVAL_USEC);
        (void)sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

int manager_start(Manager *m, char **ret_error) {
        _cleanup_(store_state_freep) StoreState *st = NULL;
        int r;

        r = tasks_setup(m);
        if (r < 0)
                return r;
        r = spool_new(m->config.state_dir, &m->spool);
        if (r < 0)
                return r;
        r = store_open(m->config.state_dir, m->event, &m->store, &st, ret_error);
        if (r < 0)
                return r;
        if (st->imported_jobs > 0 || st->imported_rules > 0)
                log_notice("Imported %" PRIu64 " job(s) and %" PRIu64
                           " rule(s) from the old journal in %s%s.",
                           st->imported_jobs, st->imported_rules, m->config.state_dir,
                           st->import_skipped_lines > 0 ? "; skipped lines that did not parse" : "");
        if (st->import_skipped_lines > 0)
                log_warning("Skipped %" PRIu64
                            " line(s) of the old job journal that did not parse (a torn last "
                            "line is what kill -9 leaves).",
                            st->import_skipped_lines);
        m->next_job_id = MAX(m->next_job_id, st->next_job_id);
        m->next_rule_id = MAX(m->next_rule_id, st->next_rule_id);

        for (size_t i = 0; i < st->n_sequences; i++) {
                r = sequence_load(m, &st->sequences[i]);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < st->n_rules; i++) {
                r = manager_load_rule(m, &st->rules[i]);
                if (r < 0)
                        return r;
        }
        /* [Trust] may have changed since the rules were added. */
        rule_check_trust(m);
        rule_check_sequences(m);
        for (size_t i = 0; i < st->n_jobs; i++) {
                r = manager_resume_job(m, &st->jobs[i]);
                if (r < 0)
                        log_error_errno(r, "Failed to resume job %" PRIu32 ": %m", st->jobs[i].id);
        }
        /* Whatever nobody holds now is left over from before: a crash between spooling and recording. */
        spool_refs_collect(m, NULL);

        if (m->config.history_retention_usec > 0) {
                r = sd_event_add_time_relative(m->event, &m->prune_timer, CLOCK_MONOTONIC, 0, USEC_PER_SEC,
                                               on_prune, m);
                if (r < 0)
                        log_warning_errno(r, "Failed to schedule pruning of the history: %m");
        }
        return 0;
}
