/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus-submit.h"
#include "context.h"
#include "log.h"

/*
 * Submit, Inspect and AddRule validate before they reply, and reading a caller's pipe may take a
 * while: the image set is read on a thread and the reply is sent from its completion, so the bus
 * keeps answering meanwhile. Every path ends in exactly one reply.
 */

typedef enum PendingKind {
        PENDING_SUBMIT,
        PENDING_INSPECT,
        PENDING_RULE,
} PendingKind;

typedef struct Pending {
        Context *ctx;
        PendingKind kind;
        sd_bus_message *message;
        ImageSet *set;
        JobOptions opts;
        uid_t uid;
} Pending;

static Pending *pending_free(Pending *p) {
        if (!p)
                return NULL;
        sd_bus_message_unref(p->message);
        image_set_free(p->set);
        job_options_done(&p->opts);
        free(p);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(Pending *, pending_free);

static bool device_is_target(const Device *d, const JobOptions *o) {
        if (!d->published || d->failed)
                return false;
        if (o->port)
                return streq(o->port, d->port_path);
        if (o->serial)
                return d->serial && streq(o->serial, d->serial);
        if (o->station)
                return d->station && streq(o->station, d->station);
        return o->any;
}

/* Resolves the target board now; NULL with no error for a job that may wait. */
static int submit_resolve(Context *ctx, JobOptions *o, Device **ret, sd_bus_error *error) {
        Device *found = NULL;
        unsigned n = 0;

        if (!o->port && !o->serial && !o->station && !o->any) {
                LIST_FOREACH (devices, d, ctx->devices)
                        if (d->published && !d->failed)
                                n++, found = d;
                if (n > 1)
                        return sd_bus_error_setf(
                                error, SD_BUS_ERROR_INVALID_ARGS,
                                "Several boards attached; name one with port, serial or station, "
                                "or use any.");
                if (n == 1) {
                        o->port = strdup(found->port_path);
                        if (!o->port)
                                return -ENOMEM;
                } else
                        o->any = true; /* nothing attached: with wait, the first board to come */
        } else
                LIST_FOREACH (devices, d, ctx->devices)
                        if (device_is_target(d, o)) {
                                if (o->serial && d->serial_duplicated)
                                        return sd_bus_error_setf(
                                                error, DFUSD_ERROR_BUSY,
                                                "Serial '%s' is reported by several boards; name "
                                                "the board by port.",
                                                o->serial);
                                /* Prefer an idle board for validation: that is the one the job gets. */
                                if (!found || (found->current_job && !d->current_job))
                                        found = d;
                        }
        if (!found && !o->wait && o->port) {
                Device *bad = device_find(ctx, o->port);
                if (bad && bad->failed)
                        return sd_bus_error_setf(
                                error, DFUSD_ERROR_NO_DEVICE,
                                "The board on port %s did not answer when it attached (State "
                                "\"error\"); replug it or reset it into its bootloader.",
                                o->port);
        }
        if (!found && !o->wait)
                return sd_bus_error_setf(
                        error, DFUSD_ERROR_NO_DEVICE,
                        "No matching board is attached; pass wait to queue the job until one is.");
        if (!found && !o->part)
                return sd_bus_error_setf(
                        error, SD_BUS_ERROR_INVALID_ARGS,
                        "No board to check the image against; name the part (option 'part').");
        *ret = found;
        return 0;
}

static int reply_load_error(Pending *p) {
        const DfuError *e = &p->set->error;
        const char *name = e->code == ETIMEDOUT || e->code == ENOSPC || e->code == EIO
                                   ? DFUSD_ERROR_FAILED
                                   : DFUSD_ERROR_IMAGE_REJECTED;
        if (e->code == ENOMEM)
                name = SD_BUS_ERROR_NO_MEMORY;
        return sd_bus_reply_method_errorf(p->message, name, "%s", dfu_error_message(e));
}

static void submit_recorded(Context *ctx, int result, void *userdata) {
        Job *j = userdata;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = TAKE_PTR(j->submit_call);
        int r;

        if (ctx->exiting)
                return;
        if (result < 0) {
                (void)sd_bus_reply_method_errorf(m, DFUSD_ERROR_FAILED,
                                                 "Failed to record the job in the journal: %s",
                                                 strerror(-result));
                job_free(j);
                return;
        }
        j->accepted = true;
        r = sd_bus_reply_method_return(m, "o", j->object_path);
        if (r < 0)
                log_warning_errno(r, "Failed to reply to Submit: %m");
        log_info("Job %" PRIu32 " submitted by uid %u for %s, image %s.", j->id, (unsigned)j->owner,
                 j->target ? j->target : "any board", j->image_sha256);
        /* Replied already: a failure from here on is the job's, never a second reply. */
        r = queue_add(ctx, j);
        if (r < 0)
                log_error_errno(r, "Failed to queue job %" PRIu32 ": %m", j->id);
}

static int submit_finish(Pending *p) {
        Context *ctx = p->ctx;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        DfuError derr = DFU_ERROR_INIT;
        Device *d = NULL;
        Job *j;
        int r;

        /* The boards may have changed while the images were read. */
        r = submit_resolve(ctx, &p->opts, &d, &error);
        if (r < 0)
                return sd_bus_reply_method_error(p->message, &error);

        r = job_new(ctx, ctx->next_job_id, &j);
        if (r < 0)
                return r;
        j->owner = p->uid;
        j->opts = p->opts;
        job_options_init(&p->opts);
        j->image = TAKE_PTR(p->set->merged);
        j->image_hashes = TAKE_PTR(p->set->hashes);
        j->image_sha256 = images_sha256_summary(j->image_hashes);
        j->target = job_options_target(&j->opts);

        r = job_prepare(j, d, ctx->config.default_verify, &derr);
        if (r < 0) {
                job_free(j);
                if (r == -ENOMEM)
                        return r;
                return sd_bus_reply_method_errorf(p->message,
                                                  r == -EMEDIUMTYPE ? DFUSD_ERROR_IMAGE_REJECTED
                                                                    : SD_BUS_ERROR_INVALID_ARGS,
                                                  "%s", dfu_error_message(&derr));
        }
        j->prepared_generation = d ? d->generation : 0;

        /* Answered once the job is on disk (submit_recorded): an acknowledged job survives a crash. */
        j->submit_call = sd_bus_message_ref(p->message);
        r = store_record_submit(ctx, j, submit_recorded, j);
        if (r < 0) {
                j->submit_call = sd_bus_message_unref(j->submit_call);
                job_free(j);
                return sd_bus_reply_method_errorf(p->message, DFUSD_ERROR_FAILED,
                                                  "Failed to record the job in the journal: %s",
                                                  strerror(-r));
        }
        return 0;
}

static int inspect_map(Pending *p, MemMap **ret_map, const Device **ret_dev, const PartInfo **ret_part,
                       sd_bus_error *error) {
        Context *ctx = p->ctx;
        const JobOptions *o = &p->opts;
        DfuError derr = DFU_ERROR_INIT;
        const Device *dev = NULL;
        int r;

        if (o->layouts) {
                _cleanup_(memmap_freep) MemMap *map = memmap_new();
                if (!map)
                        return -ENOMEM;
                for (char **s = o->layouts; *s; s++)
                        if (memmap_add(map, *s, &derr) < 0)
                                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                         "Option 'layouts': %s", dfu_error_message(&derr));
                *ret_part = o->part ? part_find(o->part) : NULL;
                *ret_map = TAKE_PTR(map);
                return 0;
        }
        if (o->part && !o->port) {
                *ret_part = part_find(o->part);
                r = part_memmap(*ret_part, ret_map, &derr);
                return r < 0 ? sd_bus_error_setf(error, DFUSD_ERROR_FAILED, "%s", dfu_error_message(&derr))
                             : 0;
        }
        unsigned n = 0;
        LIST_FOREACH (devices, d, ctx->devices)
                if (d->published && !d->failed && (o->port ? streq(o->port, d->port_path) : true))
                        n++, dev = d;
        if (n == 0)
                return sd_bus_error_setf(error, o->port ? DFUSD_ERROR_NO_DEVICE : SD_BUS_ERROR_INVALID_ARGS,
                                         o->port ? "No board on port %s." : "%s",
                                         o->port ? o->port
                                                 : "No board to inspect against; name part or layouts.");
        if (n > 1)
                return sd_bus_error_setf(
                        error, SD_BUS_ERROR_INVALID_ARGS,
                        "Several boards attached; name one with port, or name part or layouts.");
        *ret_dev = dev;
        *ret_part = dev->part;
        return 0;
}

/* Inspect's answer: the verdicts always, the plan when there is one. */
static int inspect_reply(Pending *p, const SanitizeReport *report, const Plan *plan, const PartInfo *part) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_message_new_method_return(p->message, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (r >= 0)
                r = sd_bus_message_append(reply, "{sv}", "accepted", "b", !report->rejected);
        if (r >= 0)
                r = sd_bus_message_append(reply, "{sv}", "reason", "s",
                                          report->rejected && report->reject_reason ? report->reject_reason
                                                                                    : "");
        if (r >= 0)
                r = sd_bus_message_append(reply, "{sv}", "part", "s", part ? part->name : "");
        if (r >= 0) {
                _cleanup_free_ char *sha = images_sha256_summary(p->set->hashes);
                r = sha ? sd_bus_message_append(reply, "{sv}", "image-sha256", "s", sha) : -ENOMEM;
        }
        if (r >= 0)
                r = sd_bus_message_append(reply, "{sv}", "bytes-kept", "t", report->bytes_kept);
        if (r >= 0)
                r = sd_bus_message_append(reply, "{sv}", "bytes-dropped", "t", report->bytes_dropped);
        if (r >= 0)
                r = bus_message_open_dict_entry(reply, "segments", "aa{sv}");
        if (r >= 0)
                r = bus_append_report(reply, report);
        if (r >= 0)
                r = bus_message_close_dict_entry(reply);
        if (r >= 0 && plan) {
                r = bus_message_open_dict_entry(reply, "plan", "a{sv}");
                if (r >= 0)
                        r = bus_append_plan(reply, plan);
                if (r >= 0)
                        r = bus_message_close_dict_entry(reply);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int inspect_finish(Pending *p) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(memmap_freep) MemMap *own_map = NULL;
        _cleanup_(sanitize_report_freep) SanitizeReport *report = NULL;
        _cleanup_(plan_freep) Plan *plan = NULL;
        DfuError derr = DFU_ERROR_INIT;
        const Device *dev = NULL;
        const PartInfo *part = NULL;
        SanitizeOptions so;
        PlanOptions po;
        int r;

        r = inspect_map(p, &own_map, &dev, &part, &error);
        if (r < 0)
                return sd_bus_error_is_set(&error) ? sd_bus_reply_method_error(p->message, &error) : r;
        const MemMap *map = dev ? dev->map : own_map;

        job_options_sanitize(&p->opts, &so);
        r = sanitize_image(p->set->merged, map, &so, &report, &derr);
        if (r < 0)
                return sd_bus_reply_method_errorf(p->message, DFUSD_ERROR_FAILED, "%s",
                                                  dfu_error_message(&derr));
        if (!report->rejected && map->n_layouts > 0) {
                job_options_plan(&p->opts, p->ctx->config.default_verify, &po);
                uint16_t ts = dev ? dev->transfer_size : part ? part->transfer_size : 2048;
                r = plan_build(report->kept, &map->layouts[0], ts, part, &po, &plan, &derr);
                if (r < 0 && r != -ENOMEM) {
                        report->rejected = true;
                        free(report->reject_reason);
                        report->reject_reason = strdup(dfu_error_message(&derr));
                }
        }

        return inspect_reply(p, report, plan, part);
}

static int rule_finish(Pending *p) {
        Context *ctx = p->ctx;
        DfuError derr = DFU_ERROR_INIT;
        Rule *rule;
        int r;

        /* With a part to match, the image can be checked now rather than on the first board. */
        if (p->opts.match_part) {
                _cleanup_(memmap_freep) MemMap *map = NULL;
                _cleanup_(sanitize_report_freep) SanitizeReport *report = NULL;
                SanitizeOptions so;

                job_options_sanitize(&p->opts, &so);
                r = part_memmap(part_find(p->opts.match_part), &map, &derr);
                if (r >= 0)
                        r = sanitize_image(p->set->merged, map, &so, &report, &derr);
                if (r < 0)
                        return sd_bus_reply_method_errorf(p->message, DFUSD_ERROR_FAILED, "%s",
                                                          dfu_error_message(&derr));
                if (report->rejected)
                        return sd_bus_reply_method_errorf(p->message, DFUSD_ERROR_IMAGE_REJECTED, "%s",
                                                          report->reject_reason ? report->reject_reason
                                                                                : "image rejected");
        }

        r = rule_new(ctx, ctx->next_rule_id, &rule);
        if (r < 0)
                return r;
        rule->owner = p->uid;
        rule->opts = p->opts;
        job_options_init(&p->opts);
        rule->image_hashes = TAKE_PTR(p->set->hashes);
        rule->image_sha256 = images_sha256_summary(rule->image_hashes);
        r = rules_save(ctx);
        if (r < 0) {
                rule_free(rule);
                return sd_bus_reply_method_errorf(p->message, DFUSD_ERROR_FAILED,
                                                  "Failed to save the rules: %s", strerror(-r));
        }
        (void)bus_rule_add(rule);
        r = sd_bus_reply_method_return(p->message, "o", rule->object_path);
        _cleanup_free_ char *match = rule_match_string(rule);
        log_info("Rule %" PRIu32 " added: %s, image %s.", rule->id, match ? match : "?", rule->image_sha256);
        /* Boards already attached match too, except those just asked to leave: they are starting their
         * application, and one that comes back in its bootloader attaches anew. */
        LIST_FOREACH (devices, d, ctx->devices)
                if (d->published && !d->left)
                        rules_device_added(ctx, d);
        queue_dispatch(ctx);
        if (r < 0)
                log_warning_errno(r, "Failed to reply to AddRule: %m");
        return 0;
}

static void pending_done(Context *ctx, void *userdata) {
        _cleanup_(pending_freep) Pending *p = userdata;
        int r;

        ctx->calls_pending--;
        if (ctx->exiting)
                return;
        if (p->set->result < 0)
                r = reply_load_error(p);
        else if (p->kind == PENDING_SUBMIT)
                r = submit_finish(p);
        else if (p->kind == PENDING_INSPECT)
                r = inspect_finish(p);
        else
                r = rule_finish(p);
        if (r < 0) {
                log_error_errno(r, "Failed to complete a method call: %m");
                (void)sd_bus_reply_method_errnof(p->message, r, "Failed: %m");
        }
}

static void pending_run(void *userdata) {
        Pending *p = userdata;
        image_set_load(p->set);
}

static int method_with_images(sd_bus_message *m, Context *ctx, PendingKind kind, sd_bus_error *error) {
        _cleanup_(pending_freep) Pending *p = calloc(1, sizeof(Pending));
        static const OptionScope scopes[] = {OPTION_SCOPE_SUBMIT, OPTION_SCOPE_INSPECT, OPTION_SCOPE_RULE};
        Device *d;
        int r;

        if (!p)
                return -ENOMEM;
        p->ctx = ctx;
        p->kind = kind;
        job_options_init(&p->opts);
        if (kind != PENDING_INSPECT) {
                r = access_check_caller(ctx, m, &p->uid, error);
                if (r < 0)
                        return r;
        }
        r = image_set_new_from_message(ctx, m, &p->set, error);
        if (r < 0)
                return r;
        r = job_options_parse(m, scopes[kind], &p->opts, error);
        if (r < 0)
                return r;
        if (kind == PENDING_SUBMIT) {
                /* Fail fast on the target before reading anything. */
                r = submit_resolve(ctx, &p->opts, &d, error);
                if (r < 0)
                        return r;
        }
        p->set->has_base = p->opts.has_base;
        p->set->base = p->opts.base;
        p->message = sd_bus_message_ref(m);
        r = task_start(ctx, pending_run, pending_done, p);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to start reading the images: %m");
        TAKE_PTR(p);
        ctx->calls_pending++;
        return 1;
}

int method_submit(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return method_with_images(m, userdata, PENDING_SUBMIT, error);
}

int method_inspect(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return method_with_images(m, userdata, PENDING_INSPECT, error);
}

int method_add_rule(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return method_with_images(m, userdata, PENDING_RULE, error);
}
