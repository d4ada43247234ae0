/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "bus-submit.h"
#include "context.h"
#include "log.h"
#include "parse-util.h"

/* The Manager object: properties, GetHistory, and the bus connection itself. */

static int property_get_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", DFUSD_VERSION);
}

static int property_get_max_parallel(sd_bus *bus, const char *path, const char *interface,
                                     const char *property, sd_bus_message *reply, void *userdata,
                                     sd_bus_error *error) {
        Context *ctx = userdata;
        return sd_bus_message_append(reply, "u", ctx->config.max_parallel);
}

static int property_get_jobs(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Context *ctx = userdata;
        int r = sd_bus_message_open_container(reply, 'a', "o");
        if (r < 0)
                return r;
        LIST_FOREACH (jobs, j, ctx->jobs)
                if (j->accepted && (r = sd_bus_message_append(reply, "o", j->object_path)) < 0)
                        return r;
        return sd_bus_message_close_container(reply);
}

static int property_get_devices(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Context *ctx = userdata;
        int r = sd_bus_message_open_container(reply, 'a', "o");
        if (r < 0)
                return r;
        LIST_FOREACH (devices, d, ctx->devices)
                if (d->published && (r = sd_bus_message_append(reply, "o", d->object_path)) < 0)
                        return r;
        return sd_bus_message_close_container(reply);
}

static int property_get_rules(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Context *ctx = userdata;
        int r = sd_bus_message_open_container(reply, 'a', "o");
        if (r < 0)
                return r;
        LIST_FOREACH (rules, rl, ctx->rules)
                if ((r = sd_bus_message_append(reply, "o", rl->object_path)) < 0)
                        return r;
        return sd_bus_message_close_container(reply);
}

typedef struct HistoryFilter {
        const char *port, *serial;
        uint64_t since;
        uint32_t limit;
} HistoryFilter;

static int history_filter_read(sd_bus_message *m, const char *key, const char *signature, void *userdata,
                               sd_bus_error *error) {
        HistoryFilter *f = userdata;
        const char *want = streq(key, "since")                          ? "t"
                           : streq(key, "port") || streq(key, "serial") ? "s"
                           : streq(key, "limit")                        ? "u"
                                                                        : NULL;

        if (!want)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Unknown filter key '%s'.", key);
        if (!streq(signature, want))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Filter key '%s' must have type '%s'.", key, want);
        if (streq(key, "since"))
                return sd_bus_message_read(m, "t", &f->since);
        if (streq(key, "port"))
                return sd_bus_message_read(m, "s", &f->port);
        if (streq(key, "serial"))
                return sd_bus_message_read(m, "s", &f->serial);
        return sd_bus_message_read(m, "u", &f->limit);
}

static int method_get_history(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Context *ctx = userdata;
        HistoryFilter f = {};
        int r;

        r = bus_message_read_dict(m, history_filter_read, &f, error);
        if (r < 0)
                return r;

        /* The journal may be long: it is read on a thread and the reply sent from there. */
        r = store_history(ctx, m, f.since, f.port, f.serial, f.limit);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to read the job journal: %m");
        return 1;
}

const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("MaxParallel", "u", property_get_max_parallel, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Jobs", "ao", property_get_jobs, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Devices", "ao", property_get_devices, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Rules", "ao", property_get_rules, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("Submit", SD_BUS_ARGS("ah", images, "a{sv}", options),
                                SD_BUS_RESULT("o", job), method_submit, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Inspect", SD_BUS_ARGS("ah", images, "a{sv}", options),
                                SD_BUS_RESULT("a{sv}", result), method_inspect, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("AddRule", SD_BUS_ARGS("ah", images, "a{sv}", match_and_options),
                                SD_BUS_RESULT("o", rule), method_add_rule, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetHistory", SD_BUS_ARGS("a{sv}", filter), SD_BUS_RESULT("aa{sv}", entries),
                                method_get_history, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("JobNew", SD_BUS_ARGS("u", id, "o", job), 0),
        SD_BUS_SIGNAL_WITH_ARGS("JobRemoved", SD_BUS_ARGS("u", id, "o", job, "s", result), 0),
        SD_BUS_VTABLE_END,
};

int bus_object_path_new(const char *prefix, uint32_t id, char **ret) {
        return asprintf(ret, "%s/%" PRIu32, prefix, id) < 0 ? -ENOMEM : 0;
}

uint32_t bus_object_path_id(const char *path, const char *prefix) {
        _cleanup_free_ char *id = NULL;
        uint64_t v;

        if (sd_bus_path_decode(path, prefix, &id) <= 0 || parse_uint64(id, 10, UINT32_MAX, &v) < 0)
                return 0;
        return (uint32_t)v;
}

int bus_manager_emit_changed(Context *ctx, const char *property) {
        if (!ctx->bus)
                return 0;
        return sd_bus_emit_properties_changed(ctx->bus, DFUSD_MANAGER_PATH, DFUSD_IFACE_MANAGER, property,
                                              NULL);
}

int bus_setup(Context *ctx) {
        int r;

        r = ctx->user ? sd_bus_open_user(&ctx->bus) : sd_bus_open_system(&ctx->bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the %s bus: %m",
                                       ctx->user ? "user" : "system");
        r = sd_bus_add_object_vtable(ctx->bus, NULL, DFUSD_MANAGER_PATH, DFUSD_IFACE_MANAGER, manager_vtable,
                                     ctx);
        if (r < 0)
                return log_error_errno(r, "Failed to register the manager object: %m");
        r = sd_bus_add_fallback_vtable(ctx->bus, NULL, DFUSD_DEVICE_PREFIX, DFUSD_IFACE_DEVICE,
                                       device_vtable, device_object_find, ctx);
        if (r >= 0)
                r = sd_bus_add_node_enumerator(ctx->bus, NULL, DFUSD_DEVICE_PREFIX, device_node_enumerator,
                                               ctx);
        if (r >= 0)
                r = sd_bus_add_fallback_vtable(ctx->bus, NULL, DFUSD_JOB_PREFIX, DFUSD_IFACE_JOB, job_vtable,
                                               job_object_find, ctx);
        if (r >= 0)
                r = sd_bus_add_node_enumerator(ctx->bus, NULL, DFUSD_JOB_PREFIX, job_node_enumerator, ctx);
        if (r >= 0)
                r = sd_bus_add_fallback_vtable(ctx->bus, NULL, DFUSD_RULE_PREFIX, DFUSD_IFACE_RULE,
                                               rule_vtable, rule_object_find, ctx);
        if (r >= 0)
                r = sd_bus_add_node_enumerator(ctx->bus, NULL, DFUSD_RULE_PREFIX, rule_node_enumerator, ctx);
        if (r < 0)
                return log_error_errno(r, "Failed to register the bus objects: %m");
        r = sd_bus_add_object_manager(ctx->bus, NULL, DFUSD_MANAGER_PATH);
        if (r < 0)
                return log_error_errno(r, "Failed to add the object manager: %m");
        /* Without the bus there is nobody to serve: stop, and let the service manager decide. */
        r = sd_bus_set_exit_on_disconnect(ctx->bus, true);
        if (r < 0)
                return log_error_errno(r, "Failed to set exit on disconnect: %m");
        r = sd_bus_attach_event(ctx->bus, ctx->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Failed to attach the bus to the event loop: %m");
        return 0;
}

int bus_ready(Context *ctx) {
        int r;

        if (ctx->ready)
                return 0;
        ctx->ready = true;
        r = sd_bus_request_name(ctx->bus, DFUSD_BUS_NAME, 0);
        if (r < 0) {
                log_error_errno(r, "Failed to take the bus name %s: %m", DFUSD_BUS_NAME);
                return sd_event_exit(ctx->event, r);
        }
        log_info("Ready on the %s bus as %s, %u board(s) attached.", ctx->user ? "user" : "system",
                 DFUSD_BUS_NAME, ctx->n_devices);
        (void)sd_notifyf(false, "READY=1\nSTATUS=%u board(s) attached, %u job(s).", ctx->n_devices,
                         ctx->n_jobs);
        return 0;
}
