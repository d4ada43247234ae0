/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <systemd/sd-daemon.h>

#include "bus-events.h"
#include "bus-sequence.h"
#include "bus.h"
#include "device.h"
#include "job.h"
#include "log.h"
#include "manager.h"
#include "rule.h"

/* InterfacesAdded/Removed, PropertiesChanged, JobNew, JobRemoved, Completed. A failure to emit is
 * logged, never fatal: the state itself is right either way. */

static void notify_status(Bus *b) {
        _cleanup_free_ char *status = NULL;

        if (manager_status(b->manager, &status) >= 0)
                (void)sd_notifyf(false, "STATUS=%s", status);
}

static void emitted(int r, const char *what, const char *path) {
        if (r < 0)
                log_debug_errno(r, "Failed to emit %s for %s: %m", what, path);
}

static void on_manager_changed(const char *property, void *userdata) {
        Bus *b = userdata;
        emitted(sd_bus_emit_properties_changed(b->bus, DFUSD_MANAGER_PATH, DFUSD_IFACE_MANAGER, property,
                                               NULL),
                "PropertiesChanged", DFUSD_MANAGER_PATH);
        notify_status(b);
}

static void on_device_added(Device *d, void *userdata) {
        Bus *b = userdata;
        _cleanup_free_ char *p = NULL;

        if (bus_device_path(d, &p) >= 0)
                emitted(sd_bus_emit_object_added(b->bus, p), "InterfacesAdded", p);
}

static void on_device_removed(Device *d, void *userdata) {
        Bus *b = userdata;
        _cleanup_free_ char *p = NULL;

        if (bus_device_path(d, &p) >= 0)
                emitted(sd_bus_emit_object_removed(b->bus, p), "InterfacesRemoved", p);
}

static void on_device_changed(Device *d, const char *const *properties, void *userdata) {
        Bus *b = userdata;
        _cleanup_free_ char *p = NULL;
        static const char *const state[] = {"State", "CurrentJob", NULL};

        if (bus_device_path(d, &p) >= 0)
                emitted(sd_bus_emit_properties_changed_strv(b->bus, p, DFUSD_IFACE_DEVICE,
                                                            (char **)(properties ? properties : state)),
                        "PropertiesChanged", p);
}

static void on_job_added(Job *j, void *userdata) {
        Bus *b = userdata;
        _cleanup_free_ char *p = NULL;

        if (bus_object_path_new(DFUSD_JOB_PREFIX, j->id, &p) < 0)
                return;
        emitted(sd_bus_emit_object_added(b->bus, p), "InterfacesAdded", p);
        emitted(sd_bus_emit_signal(b->bus, DFUSD_MANAGER_PATH, DFUSD_IFACE_MANAGER, "JobNew", "uo", j->id,
                                   p),
                "JobNew", p);
}

static void on_job_removed(Job *j, void *userdata) {
        Bus *b = userdata;
        _cleanup_free_ char *p = NULL;

        if (bus_object_path_new(DFUSD_JOB_PREFIX, j->id, &p) < 0)
                return;
        emitted(sd_bus_emit_object_removed(b->bus, p), "InterfacesRemoved", p);
        emitted(sd_bus_emit_signal(b->bus, DFUSD_MANAGER_PATH, DFUSD_IFACE_MANAGER, "JobRemoved", "uos",
                                   j->id, p, job_state_to_string(j->state)),
                "JobRemoved", p);
}

static void on_job_changed(Job *j, const char *const *properties, void *userdata) {
        Bus *b = userdata;
        _cleanup_free_ char *p = NULL;

        if (bus_object_path_new(DFUSD_JOB_PREFIX, j->id, &p) < 0)
                return;
        emitted(sd_bus_emit_properties_changed_strv(b->bus, p, DFUSD_IFACE_JOB, (char **)properties),
                "PropertiesChanged", p);
}

static void on_job_completed(Job *j, void *userdata) {
        Bus *b = userdata;
        _cleanup_free_ char *p = NULL;

        if (bus_object_path_new(DFUSD_JOB_PREFIX, j->id, &p) < 0)
                return;
        emitted(sd_bus_emit_signal(b->bus, p, DFUSD_IFACE_JOB, "Completed", "bs", j->state == JOB_DONE,
                                   j->error ? j->error : job_state_to_string(j->state)),
                "Completed", p);
        notify_status(b);
}

static void on_rule_added(Rule *r, void *userdata) {
        Bus *b = userdata;
        _cleanup_free_ char *p = NULL;

        if (bus_object_path_new(DFUSD_RULE_PREFIX, r->id, &p) >= 0)
                emitted(sd_bus_emit_object_added(b->bus, p), "InterfacesAdded", p);
}

static void on_rule_removed(Rule *r, void *userdata) {
        Bus *b = userdata;
        _cleanup_free_ char *p = NULL;

        if (bus_object_path_new(DFUSD_RULE_PREFIX, r->id, &p) >= 0)
                emitted(sd_bus_emit_object_removed(b->bus, p), "InterfacesRemoved", p);
}

static void on_rule_changed(Rule *r, const char *const *properties, void *userdata) {
        Bus *b = userdata;
        _cleanup_free_ char *p = NULL;

        if (bus_object_path_new(DFUSD_RULE_PREFIX, r->id, &p) >= 0)
                emitted(sd_bus_emit_properties_changed_strv(b->bus, p, DFUSD_IFACE_RULE,
                                                            (char **)properties),
                        "PropertiesChanged", p);
}

static void on_sequence_added(Sequence *q, void *userdata) {
        Bus *b = userdata;
        _cleanup_free_ char *p = NULL;

        if (bus_sequence_path(q, &p) >= 0)
                emitted(sd_bus_emit_object_added(b->bus, p), "InterfacesAdded", p);
}

static void on_sequence_removed(Sequence *q, void *userdata) {
        Bus *b = userdata;
        _cleanup_free_ char *p = NULL;

        if (bus_sequence_path(q, &p) >= 0)
                emitted(sd_bus_emit_object_removed(b->bus, p), "InterfacesRemoved", p);
}

static void on_sequence_changed(Sequence *q, void *userdata) {
        Bus *b = userdata;
        _cleanup_free_ char *p = NULL;

        if (bus_sequence_path(q, &p) >= 0)
                emitted(sd_bus_emit_properties_changed(b->bus, p, DFUSD_IFACE_SEQUENCE, "Next", "Taken",
                                                       "Used", "Spoiled", "Returned", "Left", NULL),
                        "PropertiesChanged", p);
}

const ManagerEvents bus_events = {
        .manager_changed = on_manager_changed,
        .device_added = on_device_added,
        .device_removed = on_device_removed,
        .device_changed = on_device_changed,
        .job_added = on_job_added,
        .job_removed = on_job_removed,
        .job_changed = on_job_changed,
        .job_completed = on_job_completed,
        .rule_added = on_rule_added,
        .rule_removed = on_rule_removed,
        .rule_changed = on_rule_changed,
        .sequence_added = on_sequence_added,
        .sequence_removed = on_sequence_removed,
        .sequence_changed = on_sequence_changed,
};
