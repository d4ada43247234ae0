/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "job.h"
#include "journal.h"
#include "log.h"
#include "manager.h"
#include "match.h"
#include "rule.h"
#include "spool-refs.h"

int rule_new(Manager *m, uint32_t id, Rule **ret) {
        Rule *r = calloc(1, sizeof(Rule));

        if (!r)
                return -ENOMEM;
        job_options_init(&r->opts);
        r->id = id;
        r->manager = m;
        LIST_APPEND(rules, m->rules, r);
        if (id >= m->next_rule_id)
                m->next_rule_id = id + 1;
        *ret = r;
        return 0;
}

int rule_hold_images(Rule *r) {
        int k = spool_refs_hold(r->manager, r->image_hashes);
        if (k >= 0)
                r->images_held = true;
        return k;
}

Rule *rule_free(Rule *r) {
        if (!r)
                return NULL;
        if (r->images_held)
                spool_refs_release(r->manager, r->image_hashes);
        LIST_REMOVE(rules, r->manager->rules, r);
        job_options_done(&r->opts);
        strv_free(r->image_hashes);
        strv_free(r->flashed);
        free(r->image_sha256);
        free(r->trust);
        free(r->stopped);
        free(r->stopped_sequence);
        return mfree(r);
}

Rule *rule_find(Manager *m, uint32_t id) {
        LIST_FOREACH (rules, r, m->rules)
                if (r->id == id)
                        return r;
        return NULL;
}

static char *board_key(const char *port, const char *serial) {
        char *k = NULL;
        return asprintf(&k, "%s %s", port, serial ? serial : "") < 0 ? NULL : k;
}

static bool rule_has_job_for(Manager *m, const Rule *rule, const Device *d) {
        LIST_FOREACH (jobs, j, m->jobs)
                if (j->rule_id == rule->id && !job_state_is_final(j->state) && !j->finishing &&
                    j->opts.port && streq(j->opts.port, d->port_path))
                        return true;
        return false;
}

/* A rule's job: its images are read from the spool on a thread, then it is prepared and recorded like a
 * submitted one. */
static void rule_job_fail(Job *j, const char *what) {
        log_error("Rule %" PRIu32 ": failed to set up a job for port %s: %s", j->rule_id, j->opts.port,
                  what);
        job_free(j);
}

static void rule_job_loaded(Job *j, int result, const DfuError *load_error) {
        Manager *m = j->manager;
        DfuError error = DFU_ERROR_INIT;
        Device *d;
        int r;

        if (result < 0)
                return rule_job_fail(j, dfu_error_message(load_error));
        d = device_find(m, j->opts.port);
        if (!d || !device_is_usable(d))
                return rule_job_fail(j, "the board went away");
        r = job_prepare(j, d, &error);
        if (r < 0) {
                /* Recorded as a failed job: the rule's image does not fit this board, and the record says
                 * so. */
                log_warning("Rule %" PRIu32 ": the image does not fit the board on port %s: %s", j->rule_id,
                            d->port_path, dfu_error_message(&error));
        }
        j->prepared_generation = r < 0 ? 0 : d->generation;
        r = job_submit(j, NULL, NULL);
        if (r < 0)
                return rule_job_fail(j, strerror(-r));
        log_info("Rule %" PRIu32 " matches the board on port %s: job %" PRIu32 ".", j->rule_id, d->port_path,
                 j->id);
}

static int rule_start_job(Rule *rule, Device *d) {
        Manager *m = rule->manager;
        _cleanup_(job_freep) Job *j = NULL;
        int r;

        r = job_new(m, m->next_job_id, &j);
        if (r < 0)
                return r;
        j->owner = rule->owner;
        j->rule_id = rule->id;
        r = job_options_copy(&rule->opts, &j->opts);
        if (r < 0)
                return r;
        /* The job targets this board, and nothing of the rule's matching stays with it. */
        j->opts.match_port = mfree(j->opts.match_port);
        j->opts.match_serial = mfree(j->opts.match_serial);
        j->opts.match_station = mfree(j->opts.match_station);
        j->opts.match_part = mfree(j->opts.match_part);
        if (!(j->opts.port = strdup(d->port_path)) || !(j->image_hashes = strv_copy(rule->image_hashes)) ||
            !(j->image_sha256 = strdup(rule->image_sha256)) || !(j->target = job_options_target(&j->opts)))
                return -ENOMEM;
        /* The rule's images were checked when it was added. */
        if (rule->trust && !(j->trust = strdup(rule->trust)))
                return -ENOMEM;
        r = job_hold_images(j);
        if (r < 0)
                return r;

        r = job_load_images(j, rule_job_loaded);
        if (r < 0)
                return r;
        TAKE_PTR(j);
        return 0;
}

void rule_check_trust(Manager *m) {
        _cleanup_(trust_store_freep) TrustStore *store = NULL;
        DfuError error = DFU_ERROR_INIT;
        bool any = false;

        LIST_FOREACH (rules, rule, m->rules)
                any = any || !rule->stopped;
        if (!any || m->config.trust_mode == TRUST_OFF)
                return;
        if (trust_store_load(m->config.trust_mode, config_trust_approved_dir(&m->config),
                             config_trust_key_dir(&m->config), &store, &error) < 0) {
                /* A broken key or list refuses everything, rules included. */
                LIST_FOREACH (rules, rule, m->rules)
                        if (!rule->stopped)
                                rule_stop(rule, dfu_error_message(&error));
                return;
        }
        LIST_FOREACH (rules, rule, m->rules) {
                error = (DfuError)DFU_ERROR_INIT;
                if (!rule->stopped &&
                    trust_store_recheck(store, rule->image_hashes, rule->trust, &error) < 0)
                        rule_stop(rule, dfu_error_message(&error));
        }
}

void rule_offer_board(Rule *rule, Device *d) {
        _cleanup_free_ char *key = NULL;
        MatchSpec spec;
        int r;

        match_spec_from_rule_options(&rule->opts, &spec);
        if (rule->stopped || !device_is_usable(d) || !match_board(&spec, d) ||
            rule_has_job_for(rule->manager, rule, d))
                return;
        key = board_key(d->port_path, d->serial);
        if (!key)
                return (void)log_oom();
        if (rule->opts.once && strv_contains(rule->flashed, key))
                return;
        r = rule_start_job(rule, d);
        if (r < 0)
                log_error_errno(r, "Rule %" PRIu32 ": failed to start a job for port %s: %m", rule->id,
                                d->port_path);
}

void rule_device_added(Manager *m, Device *d) {
        if (!device_is_usable(d))
                return;
        /* The trust directories may have changed since the rules were added. */
        rule_check_trust(m);
        rule_check_sequences(m);
        LIST_FOREACH (rules, rule, m->rules)
                rule_offer_board(rule, d);
}

void rule_stop(Rule *r, const char *why) {
        char *copy;

        if (r->stopped)
                return;
        copy = strdup(why);
        if (!copy)
                return (void)log_oom();
        r->stopped = copy;
        journal_rule_stopped(r->id, why);
        manager_emit_rule_changed(r->manager, r, (const char *const[]){"Stopped", NULL});
}

void rule_job_finished(Manager *m, Job *j) {
        _cleanup_free_ char *key = NULL;
        Rule *rule;
        int r;

        if (j->rule_id == 0 || j->state != JOB_DONE || !j->port_path)
                return;
        rule = rule_find(m, j->rule_id);
        key = board_key(j->port_path, j->serial);
        if (!rule || !key || strv_contains(rule->flashed, key))
                return;
        if (strv_extend(&rule->flashed, key) < 0)
                return (void)log_oom();
        r = store_rule_flashed(m->store, rule->id, key, NULL, NULL);
        if (r < 0)
                log_warning_errno(r, "Failed to record that rule %" PRIu32 " flashed port %s: %m", rule->id,
                                  j->port_path);
        manager_emit_rule_changed(m, rule, (const char *const[]){"BoardsFlashed", NULL});
}

typedef struct RuleAdd {
        Rule *rule;
        RuleRecordedFn done;
        void *userdata;
} RuleAdd;

static void rule_add_recorded(int result, void *userdata) {
        RuleAdd *a = userdata;
        Rule *rule = a->rule;
        Manager *m = rule->manager;
        RuleRecordedFn done = a->done;
        void *done_userdata = a->userdata;

        free(a);
        if (m->exiting)
                return;
        if (result < 0) {
                if (done)
                        done(rule, result, done_userdata);
                rule_free(rule);
                return;
        }
        MANAGER_EMIT(m, rule_added, rule);
        manager_emit_changed(m, "Rules");
        if (done)
                done(rule, 0, done_userdata);
        /* Boards already attached match too, except those just asked to leave: they are starting their
         * application, and one that comes back in its bootloader attaches anew. */
        LIST_FOREACH (devices, d, m->devices)
                if (!d->left)
                        rule_device_added(m, d);
}

int rule_add(Rule *rule, RuleRecordedFn done, void *userdata) {
        _cleanup_free_ char *options = NULL;
        RuleAdd *a;
        int r;

        r = job_options_to_json_string(&rule->opts, &options);
        if (r < 0)
                return r;
        a = malloc(sizeof(RuleAdd));
        if (!a)
                return -ENOMEM;
        *a = (RuleAdd){rule, done, userdata};
        r = store_rule_add(rule->manager->store,
                           &(StoreRule){.id = rule->id,
                                        .owner = (uint32_t)rule->owner,
                                        .options_json = options,
                                        .image_hashes = rule->image_hashes,
                                        .flashed = rule->flashed,
                                        .trust = rule->trust},
                           rule_add_recorded, a);
        if (r < 0)
                free(a);
        return r;
}

int rule_remove(Rule *rule) {
        Manager *m = rule->manager;
        int r;

        r = store_rule_remove(m->store, rule->id, NULL, NULL);
        if (r < 0)
                log_warning_errno(r, "Failed to remove rule %" PRIu32 " from the store: %m", rule->id);
        log_info("Rule %" PRIu32 " removed.", rule->id);
        MANAGER_EMIT(m, rule_removed, rule);
        rule_free(rule);
        manager_emit_changed(m, "Rules");
        return 0;
}
