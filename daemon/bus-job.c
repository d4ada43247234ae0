/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "log.h"

/* org.dfusd.Flash1.Job, modelled on importd's Transfer: state, progress, Cancel(), Completed. */

#define JOB_STRING_GETTER(name, expr)                                                               \
        static int property_get_##name(sd_bus *bus, const char *path, const char *interface,        \
                                       const char *property, sd_bus_message *reply, void *userdata, \
                                       sd_bus_error *error) {                                       \
                Job *j = userdata;                                                                  \
                const char *v = (expr);                                                             \
                return sd_bus_message_append(reply, "s", v ? v : "");                               \
        }

JOB_STRING_GETTER(state, job_state_to_string(j->state))
JOB_STRING_GETTER(port_path, j->port_path)
JOB_STRING_GETTER(target, j->target)
JOB_STRING_GETTER(image_sha256, j->image_sha256)
JOB_STRING_GETTER(error, j->error)

static int property_get_device(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Job *j = userdata;
        return sd_bus_message_append(reply, "o", j->device_path ? j->device_path : "/");
}

static int property_get_rule(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Job *j = userdata;
        _cleanup_free_ char *p = NULL;
        char buf[16];

        if (j->rule_id == 0)
                return sd_bus_message_append(reply, "o", "/");
        (void)snprintf(buf, sizeof(buf), "%" PRIu32, j->rule_id);
        if (asprintf(&p, "%s/%s", DFUSD_RULE_PREFIX, buf) < 0)
                return -ENOMEM;
        return sd_bus_message_append(reply, "o", p);
}

static int property_get_report(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Job *j = userdata;
        return bus_append_report(reply, j->report);
}

int bus_append_report(sd_bus_message *m, const SanitizeReport *report) {
        int r = sd_bus_message_open_container(m, 'a', "a{sv}");
        if (r < 0)
                return r;
        for (size_t i = 0; report && i < report->n_verdicts; i++) {
                const SegmentVerdict *v = &report->verdicts[i];
                r = sd_bus_message_append(m, "a{sv}", 6, "address", "u", v->address, "size", "u", v->size,
                                          "verdict", "s", verdict_to_string(v->verdict), "kind", "s",
                                          address_kind_to_string(v->kind), "source", "s",
                                          v->source ? v->source : "", "reason", "s",
                                          v->reason ? v->reason : "");
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}

/* The entry {key: a(uu)} for (address, size) pairs, appended between open and close. */
static int open_range_list(sd_bus_message *m, const char *key) {
        int r = bus_message_open_dict_entry(m, key, "a(uu)");
        return r < 0 ? r : sd_bus_message_open_container(m, 'a', "(uu)");
}

static int close_range_list(sd_bus_message *m) {
        int r = sd_bus_message_close_container(m);
        return r < 0 ? r : bus_message_close_dict_entry(m);
}

int bus_append_plan(sd_bus_message *m, const Plan *plan) {
        int r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}", "transfer-size", "q",
                                  plan->transfer_size, "mass-erase", "b", plan->mass_erase, "verify", "b",
                                  plan->verify, "leave", "b", plan->leave, "erases", "u",
                                  (uint32_t)plan->n_erases, "runs", "u", (uint32_t)plan->n_runs,
                                  "bytes-total", "t", plan->bytes_total, "blocks-total", "t",
                                  plan->blocks_total, "estimate-ms", "t", plan->estimate_ms);
        if (r < 0)
                return r;
        r = open_range_list(m, "erase-list");
        for (size_t i = 0; r >= 0 && i < plan->n_erases; i++)
                r = sd_bus_message_append(m, "(uu)", plan->erases[i].address, plan->erases[i].size);
        if (r >= 0)
                r = close_range_list(m);
        if (r < 0)
                return r;
        r = open_range_list(m, "run-list");
        for (size_t i = 0; r >= 0 && i < plan->n_runs; i++)
                r = sd_bus_message_append(m, "(uu)", plan->runs[i].address, plan->runs[i].size);
        if (r >= 0)
                r = close_range_list(m);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(m);
}

static int property_get_progress(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Job *j = userdata;
        return sd_bus_message_append(reply, "d", j->progress);
}

static int method_cancel(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Job *j = userdata;
        int r;

        r = access_check_job(j, m, error);
        if (r < 0)
                return r;
        r = job_cancel(j);
        if (r == -EALREADY)
                return sd_bus_error_setf(error, DFUSD_ERROR_FAILED,
                                         "Job %" PRIu32 " has already ended (%s).", j->id,
                                         job_state_to_string(j->state));
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(m, NULL);
}

const sd_bus_vtable job_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Id", "u", NULL, offsetof(Job, id), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("State", "s", property_get_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Progress", "d", property_get_progress, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("BytesDone", "t", NULL, offsetof(Job, bytes_done),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("BytesTotal", "t", NULL, offsetof(Job, bytes_total),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Rate", "t", NULL, offsetof(Job, rate), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("SubmitTime", "t", NULL, offsetof(Job, submit_usec), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("StartTime", "t", NULL, offsetof(Job, start_usec),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("EndTime", "t", NULL, offsetof(Job, end_usec), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ExpectedEndTime", "t", NULL, offsetof(Job, expected_end_usec),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Device", "o", property_get_device, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("PortPath", "s", property_get_port_path, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Target", "s", property_get_target, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ImageSha256", "s", property_get_image_sha256, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Report", "aa{sv}", property_get_report, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Error", "s", property_get_error, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Rule", "o", property_get_rule, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_METHOD("Cancel", NULL, NULL, method_cancel, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("Completed", SD_BUS_ARGS("b", success, "s", message), 0),
        SD_BUS_VTABLE_END,
};

static Job *job_from_path(Context *ctx, const char *path) {
        uint32_t id = bus_object_path_id(path, DFUSD_JOB_PREFIX);
        Job *j = id > 0 ? job_find(ctx, id) : NULL;

        return j && j->accepted ? j : NULL;
}

int job_object_find(sd_bus *bus, const char *path, const char *iface, void *userdata, void **found,
                    sd_bus_error *error) {
        Job *j = job_from_path(userdata, path);
        if (!j)
                return 0;
        *found = j;
        return 1;
}

int job_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error) {
        Context *ctx = userdata;
        char **l = calloc(1, sizeof(char *));

        if (!l)
                return -ENOMEM;
        LIST_FOREACH (jobs, j, ctx->jobs)
                if (j->accepted && strv_extend(&l, j->object_path) < 0) {
                        strv_free(l);
                        return -ENOMEM;
                }
        *nodes = l;
        return 1;
}

int bus_job_add(Job *j) {
        Context *ctx = j->ctx;
        int r;

        r = sd_bus_emit_object_added(ctx->bus, j->object_path);
        if (r < 0)
                log_debug_errno(r, "Failed to announce %s: %m", j->object_path);
        return sd_bus_emit_signal(ctx->bus, DFUSD_MANAGER_PATH, DFUSD_IFACE_MANAGER, "JobNew", "uo", j->id,
                                  j->object_path);
}

int bus_job_remove(Job *j, const char *result) {
        Context *ctx = j->ctx;
        int r;

        r = sd_bus_emit_object_removed(ctx->bus, j->object_path);
        if (r < 0)
                log_debug_errno(r, "Failed to announce removal of %s: %m", j->object_path);
        return sd_bus_emit_signal(ctx->bus, DFUSD_MANAGER_PATH, DFUSD_IFACE_MANAGER, "JobRemoved", "uos",
                                  j->id, j->object_path, result);
}

int bus_job_emit_changed(Job *j, const char **properties) {
        if (!j->ctx->bus)
                return 0;
        return sd_bus_emit_properties_changed_strv(j->ctx->bus, j->object_path, DFUSD_IFACE_JOB,
                                                   (char **)properties);
}

int bus_job_emit_completed(Job *j) {
        return sd_bus_emit_signal(j->ctx->bus, j->object_path, DFUSD_IFACE_JOB, "Completed", "bs",
                                  j->state == JOB_DONE, j->error ? j->error : job_state_to_string(j->state));
}
