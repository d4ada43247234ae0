/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "log.h"
#include "manager.h"
#include "match.h"
#include "prepare.h"
#include "sequence.h"
#include "spool-refs.h"
#include "submit.h"
#include "tasks.h"

typedef struct ImagesLoad {
        ImageSet *set;
        ImagesLoadedFn done;
        void *userdata;
} ImagesLoad;

static void images_load_run(void *userdata) {
        ImagesLoad *l = userdata;
        image_set_load(l->set);
}

static void images_load_done(Manager *m, void *userdata) {
        ImagesLoad *l = userdata;
        ImageSet *set = l->set;
        ImagesLoadedFn done = l->done;
        void *done_userdata = l->userdata;

        free(l);
        m->reads_pending--;
        /* At exit too: the caller frees what it holds (m->exiting tells it not to reply). */
        done(m, set, done_userdata);
}

int submit_load_images(Manager *m, int *fds, size_t n_fds, const JobOptions *o, ImageSignatures *sigs,
                       bool spool, ImagesLoadedFn done, void *userdata, DfuError *error) {
        _cleanup_(image_signatures_done) ImageSignatures own = {};
        _cleanup_(image_set_freep) ImageSet *set = NULL;
        ImagesLoad *l;
        int r;

        if (sigs) {
                own = *sigs;
                *sigs = (ImageSignatures){};
        }
        if (own.n > n_fds) {
                for (size_t i = 0; i < n_fds; i++)
                        safe_close(fds[i]);
                return dfu_error_set(error, EINVAL,
                                     "%zu signatures for %zu image(s): give one per image, in order.", own.n,
                                     n_fds);
        }
        if (m->reads_pending >= SUBMIT_READS_MAX) {
                for (size_t i = 0; i < n_fds; i++)
                        safe_close(fds[i]);
                return dfu_error_set(error, EBUSY,
                                     "%u image reads are in progress already; try again later.",
                                     m->reads_pending);
        }
        r = image_set_new(fds, n_fds, o, m->config.image_size_cap, m->config.read_timeout_usec, &m->stopping,
                          spool ? m->spool : NULL, m->config.spool_size_cap, &set);
        if (r == -E2BIG)
                return dfu_error_set(error, EINVAL, "Too many images (at most %d).", IMAGE_SET_MAX_IMAGES);
        if (r >= 0)
                r = image_set_set_trust(set, m->config.trust_mode, config_trust_approved_dir(&m->config),
                                        config_trust_key_dir(&m->config), &own);
        if (r < 0)
                return dfu_error_set(error, -r, "Failed to set up reading the images: %s", strerror(-r));
        l = malloc(sizeof(ImagesLoad));
        if (!l)
                return dfu_error_set(error, ENOMEM, "Out of memory.");
        *l = (ImagesLoad){set, done, userdata};
        r = tasks_start(m, images_load_run, images_load_done, l);
        if (r < 0) {
                free(l);
                return dfu_error_set(error, r == -EAGAIN ? EBUSY : -r,
                                     "Failed to start reading the images: %s", strerror(-r));
        }
        TAKE_PTR(set);
        m->reads_pending++;
        return 0;
}

int submit_resolve(Manager *m, JobOptions *o, Device **ret, DfuError *error) {
        Device *found = NULL;
        MatchSpec spec;
        unsigned n = 0;

        if (!o->port && !o->serial && !o->station && !o->any) {
                LIST_FOREACH (devices, d, m->devices)
                        if (device_is_usable(d))
                                n++, found = d;
                if (n > 1)
                        return dfu_error_set(
                                error, EINVAL,
                                "Several boards attached; name one with port, serial or station, or use "
                                "any.");
                if (n == 1) {
                        o->port = strdup(found->port_path);
                        if (!o->port)
                                return dfu_error_set(error, ENOMEM, "Out of memory.");
                } else
                        o->any = true; /* nothing attached: with wait, the first board to come */
        } else {
                match_spec_from_job_options(o, &spec);
                /* A duplicated serial is refused outright rather than left to wait for ever. */
                spec.unique_serial = false;
                LIST_FOREACH (devices, d, m->devices) {
                        if (!device_is_usable(d) || !match_board(&spec, d))
                                continue;
                        if (o->serial && d->serial_duplicated)
                                return dfu_error_set(
                                        error, EBUSY,
                                        "Serial '%s' is reported by several boards; name the board "
                                        "by port.",
                                        o->serial);
                        /* Prefer an idle board for validation: that is the one the job gets. */
                        if (!found || (found->current_job && !d->current_job))
                                found = d;
                }
        }
        if (!found && !o->wait && o->port) {
                Device *bad = device_find(m, o->port);
                if (bad && bad->failed)
                        return dfu_error_set(error, ENODEV,
                                             "The board on port %s did not answer when it attached (State "
                                             "\"error\"); replug it or reset it into its bootloader.",
                                             o->port);
        }
        if (!found && !o->wait)
                return dfu_error_set(
                        error, ENODEV,
                        "No matching board is attached; pass wait to queue the job until one is.");
        if (!found && !o->part)
                return dfu_error_set(error, EINVAL,
                                     "No board to check the image against; name the part (option 'part').");
        *ret = found;
        return 0;
}

static int submit_job_create(Manager *m, ImageSet *set, JobOptions *o, uid_t owner, JobRecordedFn done,
                             void *userdata, DfuError *error) {
        _cleanup_(job_freep) Job *j = NULL;
        Device *d = NULL;
        unsigned n_open = 0;
        int r;

        LIST_FOREACH (jobs, other, m->jobs)
                n_open += !job_state_is_final(other->state);
        if (n_open >= m->config.max_queued_jobs)
                return dfu_error_set(error, EBUSY,
                                     "%u jobs are waiting or running already (MaxQueuedJobs=%u).", n_open,
                                     m->config.max_queued_jobs);

        /* The boards may have changed while the images were read. */
        r = submit_resolve(m, o, &d, error);
        if (r < 0)
                return r;
        r = job_new(m, m->next_job_id, &j);
        if (r < 0)
                return dfu_error_set(error, -r, "Out of memory.");
        j->owner = owner;
        j->opts = *o;
        job_options_init(o);
        j->image = TAKE_PTR(set->merged);
        j->image_hashes = strv_copy(set->hashes);
        j->image_sha256 = image_set_sha256_summary(set->hashes);
        j->trust = TAKE_PTR(set->trust_source);
        j->target = job_options_target(&j->opts);
        if (!j->image_hashes || !j->image_sha256 || !j->target || job_hold_images(j) < 0)
                return dfu_error_set(error, ENOMEM, "Out of memory.");

        r = job_prepare(j, d, error);
        if (r < 0)
                return r;
        j->prepared_generation = d ? d->generation : 0;
        r = job_submit(j, done, userdata);
        if (r < 0)
                return dfu_error_set(error, -r, "Failed to record the job: %s", strerror(-r));
        TAKE_PTR(j);
        return 0;
}

int submit_job(Manager *m, ImageSet *set, JobOptions *o, uid_t owner, JobRecordedFn done, void *userdata,
               DfuError *error) {
        int r = submit_job_create(m, set, o, owner, done, userdata, error);

        /* A refused job leaves nothing in the spool (once no other job or rule needs the same image). */
        if (r < 0 && set->claimed) {
                image_set_unclaim(set);
                spool_refs_collect(m, set->hashes);
        }
        return r;
}

void submit_inspect_result_done(InspectResult *r) {
        r->report = sanitize_report_free(r->report);
        r->plan = plan_free(r->plan);
        FOREACH_ARRAY (p, r->patches, r->n_patches) {
                free(p->sample);
                free(p->sample_bytes);
                free(p->sample_error);
        }
        r->patches = mfree(r->patches);
        r->n_patches = 0;
}

static int inspect_patches(const JobOptions *o, const PatchPlace *places, InspectResult *ret) {
        _cleanup_free_ Patch *patches = NULL;
        size_t n;
        int r;

        if (!o->patches)
                return 0;
        r = job_options_patches(o, &patches, &n);
        if (r < 0)
                return r;
        ret->patches = calloc(MAX(n, 1u), sizeof(InspectPatch));
        if (!ret->patches)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                ret->patches[ret->n_patches++] = (InspectPatch){.patch = patches[i], .place = places[i]};
        return 0;
}

static int inspect_target(Manager *m, const JobOptions *o, MemMap **own_map, PrepareTarget *ret,
                          DfuError *error) {
        const Device *dev = NULL;
        unsigned n = 0;
        int r;

        if (o->layouts) {
                _cleanup_(memmap_freep) MemMap *map = memmap_new();
                DfuError e = DFU_ERROR_INIT;
                if (!map)
                        return dfu_error_set(error, ENOMEM, "Out of memory.");
                for (char **s = o->layouts; *s; s++)
                        if (memmap_add(map, *s, &e) < 0)
                                return dfu_error_set(error, EINVAL, "Option 'layouts': %s",
                                                     dfu_error_message(&e));
                const PartInfo *part = o->part ? part_find(o->part) : NULL;
                *ret = (PrepareTarget){
                        .map = map, .transfer_size = part ? part->transfer_size : 2048, .part = part};
                *own_map = TAKE_PTR(map);
                return 0;
        }
        if (o->part && !o->port) {
                r = prepare_target_from_part(part_find(o->part), own_map, ret, error);
                return r < 0 ? dfu_error_set(error, EIO, "%s", dfu_error_message(error)) : 0;
        }
        MatchSpec spec = {.port = o->port, .any = true};
        LIST_FOREACH (devices, d, m->devices)
                if (device_is_usable(d) && match_board(&spec, d))
                        n++, dev = d;
        if (n == 0 && o->port)
                return dfu_error_set(error, ENODEV, "No board on port %s.", o->port);
        if (n == 0)
                return dfu_error_set(error, EINVAL, "No board to inspect against; name part or layouts.");
        if (n > 1)
                return dfu_error_set(
                        error, EINVAL,
                        "Several boards attached; name one with port, or name part or layouts.");
        prepare_target_from_device(dev, ret);
        return 0;
}

int submit_inspect(Manager *m, const ImageSet *set, const JobOptions *o, InspectResult *ret,
                   DfuError *error) {
        _cleanup_(memmap_freep) MemMap *own_map = NULL;
        PatchPlace places[PATCH_MAX] = {};
        PrepareTarget t;
        int r;

        r = inspect_target(m, o, &own_map, &t, error);
        if (r < 0)
                return r;
        *ret = (InspectResult){.part = t.part};
        r = prepare_image_places(set->merged, o, &t, m->config.default_verify, &ret->report, &ret->plan,
                                 places, error);
        if (r == -EMEDIUMTYPE && ret->report) {
                *error = (DfuError)DFU_ERROR_INIT;
                return 0;
        }
        if (r >= 0 && inspect_patches(o, places, ret) < 0)
                r = dfu_error_set(error, ENOMEM, "Out of memory.");
        if (r < 0)
                submit_inspect_result_done(ret);
        return r;
}

static int submit_rule_create(Manager *m, ImageSet *set, JobOptions *o, uid_t owner, RuleRecordedFn done,
                              void *userdata, DfuError *error) {
        unsigned n = 0;
        Rule *rule;
        int r;

        LIST_FOREACH (rules, other, m->rules)
                n++;
        if (n >= RULES_MAX)
                return dfu_error_set(error, EBUSY,
                                     "dfusd keeps at most %d rules and has %u; remove one first.", RULES_MAX,
                                     n);
        /* With a part to match, the image can be checked now rather than on the first board. */
        if (o->match_part) {
                _cleanup_(memmap_freep) MemMap *map = NULL;
                _cleanup_(sanitize_report_freep) SanitizeReport *report = NULL;
                _cleanup_(plan_freep) Plan *plan = NULL;
                PrepareTarget t;

                r = prepare_target_from_part(part_find(o->match_part), &map, &t, error);
                if (r >= 0)
                        r = prepare_image(set->merged, o, &t, m->config.default_verify, &report, &plan,
                                          error);
                if (r < 0)
                        return r;
        }
        r = rule_new(m, m->next_rule_id, &rule);
        if (r < 0)
                return dfu_error_set(error, -r, "Out of memory.");
        rule->owner = owner;
        rule->opts = *o;
        job_options_init(o);
        rule->image_hashes = strv_copy(set->hashes);
        rule->image_sha256 = image_set_sha256_summary(set->hashes);
        rule->trust = TAKE_PTR(set->trust_source);
        rule->flashed = calloc(1, sizeof(char *));
        if (!rule->image_hashes || !rule->image_sha256 || !rule->flashed || rule_hold_images(rule) < 0) {
                rule_free(rule);
                return dfu_error_set(error, ENOMEM, "Out of memory.");
        }
        r = rule_add(rule, done, userdata);
        if (r < 0) {
                rule_free(rule);
                return dfu_error_set(error, -r, "Failed to record the rule: %s", strerror(-r));
        }
        return 0;
}

int submit_rule(Manager *m, ImageSet *set, JobOptions *o, uid_t owner, RuleRecordedFn done, void *userdata,
                DfuError *error) {
        int r = submit_rule_create(m, set, o, owner, done, userdata, error);

        if (r < 0 && set->claimed) {
                image_set_unclaim(set);
                spool_refs_collect(m, set->hashes);
        }
        return r;
}
