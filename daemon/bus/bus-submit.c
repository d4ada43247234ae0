/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bus-access.h"
#include "bus-dict.h"
#include "bus-report.h"
#include "bus-submit.h"
#include "bus.h"
#include "device.h"
#include "image-set.h"
#include "job.h"
#include "log.h"
#include "manager.h"
#include "rule.h"
#include "submit.h"

/*
 * Submit, Inspect and AddRule validate before they reply, and reading a caller's pipe may take a while:
 * the image set is read on a thread and the reply is sent from its completion, so the bus keeps
 * answering meanwhile. Every path ends in exactly one reply.
 */

typedef enum PendingKind {
        PENDING_SUBMIT,
        PENDING_INSPECT,
        PENDING_RULE,
} PendingKind;

typedef struct Pending {
        Bus *bus;
        PendingKind kind;
        sd_bus_message *message;
        JobOptions opts;
        uid_t uid;
} Pending;

static Pending *pending_free(Pending *p) {
        if (!p)
                return NULL;
        if (p->message) {
                bus_caller_read_end(p->bus, sd_bus_message_get_sender(p->message) ?: "");
                sd_bus_message_unref(p->message);
        }
        job_options_done(&p->opts);
        return mfree(p);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(Pending *, pending_free);

static void submit_recorded(Job *j, int result, void *userdata) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = userdata;
        _cleanup_free_ char *path = NULL;
        int r;

        if (result < 0) {
                (void)sd_bus_reply_method_errorf(m, DFUSD_ERROR_FAILED, "Failed to record the job: %s",
                                                 strerror(-result));
                return;
        }
        r = bus_object_path_new(DFUSD_JOB_PREFIX, j->id, &path);
        if (r >= 0)
                r = sd_bus_reply_method_return(m, "o", path);
        if (r < 0)
                log_warning_errno(r, "Failed to reply to Submit: %m");
        log_info("Job %" PRIu32 " submitted by uid %u for %s, image %s%s%s.", j->id, (unsigned)j->owner,
                 j->target ? j->target : "any board", j->image_sha256, j->trust ? ", accepted by " : "",
                 j->trust ?: "");
}

static int submit_finish(Pending *p, ImageSet *set) {
        DfuError error = DFU_ERROR_INIT;
        sd_bus_message *m = sd_bus_message_ref(p->message);
        int r;

        /* Answered once the job is durable (submit_recorded): an acknowledged job survives a crash. */
        r = submit_job(p->bus->manager, set, &p->opts, p->uid, submit_recorded, m, &error);
        if (r < 0) {
                sd_bus_message_unref(m);
                return bus_reply_core_error(p->message, &error);
        }
        return 0;
}

/* "patches": aa{sv}, where each goes and a sample of what the next board would get there. */
static int inspect_append_patches(sd_bus_message *reply, const InspectResult *res) {
        int r = bus_message_open_dict_entry(reply, "patches", "aa{sv}");

        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "a{sv}");
        FOREACH_ARRAY (p, res->patches, res->n_patches) {
                char format[16];

                patch_format_to_string(p->patch.format, p->patch.width, format);
                if (r >= 0)
                        r = sd_bus_message_open_container(reply, 'a', "{sv}");
                if (r >= 0)
                        r = sd_bus_message_append(reply, "{sv}{sv}{sv}{sv}{sv}", "address", "u",
                                                  p->patch.address, "format", "s", format, "sequence", "s",
                                                  p->patch.sequence, "size", "u", p->patch.width, "place",
                                                  "s", patch_place_to_string(p->place));
                if (r >= 0 && p->sample)
                        r = sd_bus_message_append(reply, "{sv}", "sample", "s", p->sample);
                if (r >= 0 && p->sample_bytes)
                        r = sd_bus_message_append(reply, "{sv}", "sample-bytes", "s", p->sample_bytes);
                if (r >= 0 && p->sample_error)
                        r = sd_bus_message_append(reply, "{sv}", "sample-error", "s", p->sample_error);
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0)
                r = bus_message_close_dict_entry(reply);
        return r;
}

/* Inspect's answer: the verdicts always, the plan when there is one; both capped in size. */
static int inspect_reply(Pending *p, const char *sha, const InspectResult *res) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const SanitizeReport *report = res->report;
        int r;

        r = sd_bus_message_new_method_return(p->message, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (r >= 0)
                r = sd_bus_message_append(
                        reply, "{sv}{sv}{sv}{sv}{sv}{sv}{sv}", "accepted", "b", !report->rejected, "reason",
                        "s", report->rejected && report->reject_reason ? report->reject_reason : "", "part",
                        "s", res->part ? res->part->name : "", "image-sha256", "s", sha, "bytes-kept", "t",
                        report->bytes_kept, "bytes-dropped", "t", report->bytes_dropped, "segments-total",
                        "u", (uint32_t)report->n_verdicts);
        if (r >= 0)
                r = bus_message_open_dict_entry(reply, "segments", "aa{sv}");
        if (r >= 0)
                r = bus_append_report(reply, report, BUS_REPORT_SEGMENTS_MAX);
        if (r >= 0)
                r = bus_message_close_dict_entry(reply);
        if (r >= 0 && res->n_patches > 0)
                r = inspect_append_patches(reply, res);
        if (r >= 0 && res->plan) {
                r = bus_message_open_dict_entry(reply, "plan", "a{sv}");
                if (r >= 0)
                        r = bus_append_plan(reply, res->plan);
                if (r >= 0)
                        r = bus_message_close_dict_entry(reply);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* An Inspect whose patch samples are being read from the store. */
typedef struct InspectSampling {
        Pending *pending;
        char *sha;
        InspectResult res;
} InspectSampling;

static InspectSampling *inspect_sampling_free(InspectSampling *s) {
        if (!s)
                return NULL;
        pending_free(s->pending);
        free(s->sha);
        submit_inspect_result_done(&s->res);
        return mfree(s);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(InspectSampling *, inspect_sampling_free);

static void inspect_sampled(Manager *m, int result, void *userdata) {
        _cleanup_(inspect_sampling_freep) InspectSampling *s = userdata;
        int r = result;

        if (result == -ESHUTDOWN)
                return;
        if (r >= 0)
                r = inspect_reply(s->pending, s->sha, &s->res);
        if (r < 0) {
                log_error_errno(r, "Failed to complete a method call: %m");
                (void)sd_bus_reply_method_errnof(s->pending->message, r, "Failed: %m");
        }
}

/* Takes *p when the reply waits for the samples. */
static int inspect_finish(Pending **p, ImageSet *set) {
        _cleanup_(inspect_sampling_freep) InspectSampling *s = calloc(1, sizeof(InspectSampling));
        DfuError error = DFU_ERROR_INIT;
        int r;

        if (!s)
                return -ENOMEM;
        s->sha = image_set_sha256_summary(set->hashes);
        if (!s->sha)
                return -ENOMEM;
        r = submit_inspect((*p)->bus->manager, set, &(*p)->opts, &s->res, &error);
        if (r < 0)
                return bus_reply_core_error((*p)->message, &error);
        if (s->res.n_patches == 0)
                return inspect_reply(*p, s->sha, &s->res);
        r = submit_inspect_sample((*p)->bus->manager, &s->res, inspect_sampled, s);
        if (r < 0)
                return r;
        s->pending = TAKE_PTR(*p);
        TAKE_PTR(s);
        return 0;
}

static void rule_recorded(Rule *rule, int result, void *userdata) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = userdata;
        _cleanup_free_ char *path = NULL, *match = NULL;
        int r;

        if (result < 0) {
                (void)sd_bus_reply_method_errorf(m, DFUSD_ERROR_FAILED, "Failed to record the rule: %s",
                                                 strerror(-result));
                return;
        }
        r = bus_object_path_new(DFUSD_RULE_PREFIX, rule->id, &path);
        if (r >= 0)
                r = sd_bus_reply_method_return(m, "o", path);
        if (r < 0)
                log_warning_errno(r, "Failed to reply to AddRule: %m");
        match = job_options_match_string(&rule->opts);
        log_info("Rule %" PRIu32 " added: %s, image %s%s%s.", rule->id, match ? match : "?",
                 rule->image_sha256, rule->trust ? ", accepted by " : "", rule->trust ?: "");
}

static int rule_finish(Pending *p, ImageSet *set) {
        DfuError error = DFU_ERROR_INIT;
        sd_bus_message *m = sd_bus_message_ref(p->message);
        int r;

        r = submit_rule(p->bus->manager, set, &p->opts, p->uid, rule_recorded, m, &error);
        if (r < 0) {
                sd_bus_message_unref(m);
                return bus_reply_core_error(p->message, &error);
        }
        return 0;
}

/* A set that did not load: its images are what was wrong, unless reading itself failed. */
static int reply_load_error(Pending *p, const DfuError *e) {
        const char *name = e->code == ETIMEDOUT || e->code == ENOSPC || e->code == EIO || e->code == EBUSY ||
                                           e->code == ESHUTDOWN
                                   ? DFUSD_ERROR_FAILED
                                   : DFUSD_ERROR_IMAGE_REJECTED;
        if (e->code == ENOMEM)
                name = SD_BUS_ERROR_NO_MEMORY;
        return sd_bus_reply_method_errorf(p->message, name, "%s", dfu_error_message(e));
}

static void pending_done(Manager *mgr, ImageSet *set_, void *userdata) {
        _cleanup_(pending_freep) Pending *p = userdata;
        _cleanup_(image_set_freep) ImageSet *set = set_;
        int r;

        if (mgr->exiting)
                return;
        if (set->result < 0)
                r = reply_load_error(p, &set->error);
        else if (p->kind == PENDING_SUBMIT)
                r = submit_finish(p, set);
        else if (p->kind == PENDING_INSPECT)
                r = inspect_finish(&p, set);
        else
                r = rule_finish(p, set);
        if (r < 0) {
                log_error_errno(r, "Failed to complete a method call: %m");
                (void)sd_bus_reply_method_errnof(p->message, r, "Failed: %m");
        }
}

/* "signatures" (aay): one detached signature per image, in order; an empty one stands for none. */
static int signatures_read(sd_bus_message *m, const char *key, const char *signature, void *userdata,
                           sd_bus_error *error) {
        ImageSignatures *sigs = userdata;
        int r;

        if (!streq(key, "signatures"))
                return 0;
        if (!streq(signature, "aay"))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Option 'signatures' must have type 'aay', got '%s'.", signature);
        image_signatures_done(sigs);
        r = sd_bus_message_enter_container(m, 'a', "ay");
        if (r < 0)
                return r;
        for (;;) {
                const void *data;
                size_t size;

                r = sd_bus_message_read_array(m, 'y', &data, &size);
                if (r <= 0)
                        break;
                if (sigs->n >= IMAGE_SET_MAX_IMAGES)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Too many signatures (at most %d).", IMAGE_SET_MAX_IMAGES);
                if (size > TRUST_SIGNATURE_MAX)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Signature %zu is %zu bytes, more than the %d allowed.",
                                                 sigs->n + 1, size, TRUST_SIGNATURE_MAX);
                if (size > 0) {
                        sigs->data[sigs->n] = malloc(size);
                        if (!sigs->data[sigs->n])
                                return -ENOMEM;
                        memcpy(sigs->data[sigs->n], data, size);
                }
                sigs->size[sigs->n++] = size;
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(m);
        return r < 0 ? r : 1;
}

/* Takes duplicates of the caller's fds: only regular files and pipes, at most IMAGE_SET_MAX_IMAGES. */
static int read_fds(sd_bus_message *m, int *fds, size_t *n, uint64_t size_cap, sd_bus_error *error) {
        int r, fd;

        r = sd_bus_message_enter_container(m, 'a', "h");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(m, "h", &fd)) > 0) {
                struct stat st;

                if (*n >= IMAGE_SET_MAX_IMAGES)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Too many images (at most %d).", IMAGE_SET_MAX_IMAGES);
                if (fstat(fd, &st) < 0)
                        return sd_bus_error_set_errnof(error, errno, "Failed to stat image %zu: %m", *n + 1);
                if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode))
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Image %zu is neither a regular file nor a pipe.", *n + 1);
                if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > size_cap)
                        return sd_bus_error_setf(
                                error, DFUSD_ERROR_IMAGE_REJECTED,
                                "Image %zu is %llu bytes, larger than the cap of %llu bytes.", *n + 1,
                                (unsigned long long)st.st_size, (unsigned long long)size_cap);
                fds[*n] = fcntl(fd, F_DUPFD_CLOEXEC, 3);
                if (fds[*n] < 0)
                        return sd_bus_error_set_errnof(error, errno, "Failed to duplicate image fd: %m");
                (*n)++;
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        if (*n == 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "No image given.");
        return 0;
}

static int method_with_images(sd_bus_message *m, Bus *b, PendingKind kind, sd_bus_error *error) {
        static const OptionScope scopes[] = {OPTION_SCOPE_SUBMIT, OPTION_SCOPE_INSPECT, OPTION_SCOPE_RULE};
        _cleanup_(image_signatures_done) ImageSignatures sigs = {};
        Manager *mgr = b->manager;
        _cleanup_(pending_freep) Pending *p = calloc(1, sizeof(Pending));
        DfuError derr = DFU_ERROR_INIT;
        int fds[IMAGE_SET_MAX_IMAGES];
        size_t n_fds = 0;
        Device *d;
        int r;

        if (!p)
                return -ENOMEM;
        p->bus = b;
        p->kind = kind;
        job_options_init(&p->opts);
        if (kind != PENDING_INSPECT) {
                r = bus_access_check_caller(mgr, m, &p->uid, error);
                if (r < 0)
                        return r;
        }
        r = read_fds(m, fds, &n_fds, mgr->config.image_size_cap, error);
        if (r >= 0)
                r = bus_job_options_read_extra(m, scopes[kind], &p->opts, signatures_read, &sigs, error);
        /* Fail fast on the target before reading anything. */
        if (r >= 0 && kind == PENDING_SUBMIT && submit_resolve(mgr, &p->opts, &d, &derr) < 0)
                r = bus_error_from_core(error, &derr);
        if (r >= 0 && bus_caller_read_begin(b, sd_bus_message_get_sender(m) ?: "") < 0)
                r = sd_bus_error_setf(
                        error, DFUSD_ERROR_BUSY,
                        "This caller has %d image reads in progress already; wait for one to end.",
                        BUS_READS_PER_CALLER_MAX);
        if (r < 0) {
                for (size_t i = 0; i < n_fds; i++)
                        safe_close(fds[i]);
                return r;
        }
        p->message = sd_bus_message_ref(m);
        r = submit_load_images(mgr, fds, n_fds, &p->opts, &sigs, kind != PENDING_INSPECT, pending_done, p,
                               &derr);
        if (r < 0)
                return bus_error_from_core(error, &derr);
        TAKE_PTR(p);
        return 1;
}

int bus_submit_method_submit(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return method_with_images(m, userdata, PENDING_SUBMIT, error);
}

int bus_submit_method_inspect(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return method_with_images(m, userdata, PENDING_INSPECT, error);
}

int bus_submit_method_add_rule(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return method_with_images(m, userdata, PENDING_RULE, error);
}
