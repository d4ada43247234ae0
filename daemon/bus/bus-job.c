/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus-access.h"
#include "bus-job.h"
#include "bus-report.h"
#include "bus.h"
#include "job.h"
#include "log.h"
#include "manager.h"
#include "progress.h"

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
/* Empty until the job has run: State says queued or waiting. A job that failed keeps the phase it
 * failed in. */
JOB_STRING_GETTER(phase, j->has_phase ? progress_phase_to_string(j->phase) : "")
JOB_STRING_GETTER(port_path, j->port_path)
JOB_STRING_GETTER(target, j->target)
JOB_STRING_GETTER(image_sha256, j->image_sha256)
JOB_STRING_GETTER(error, j->error)
JOB_STRING_GETTER(trust, j->trust)
JOB_STRING_GETTER(protection, j->protection_done)
JOB_STRING_GETTER(origin, j->opts.origin)

static int property_get_device(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Job *j = userdata;
        _cleanup_free_ char *p = NULL;

        /* The board it ran on, even after that board went away. */
        if (!j->port_path)
                return sd_bus_message_append(reply, "o", "/");
        if (sd_bus_path_encode(DFUSD_DEVICE_PREFIX, j->port_path, &p) < 0)
                return -ENOMEM;
        return sd_bus_message_append(reply, "o", p);
}

static int property_get_rule(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Job *j = userdata;
        return bus_append_object_path(reply, DFUSD_RULE_PREFIX, j->rule_id);
}

static int property_get_report(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Job *j = userdata;
        return bus_append_report(reply, j->report, BUS_JOB_REPORT_SEGMENTS_MAX);
}

static int property_get_report_segments(sd_bus *bus, const char *path, const char *interface,
                                        const char *property, sd_bus_message *reply, void *userdata,
                                        sd_bus_error *error) {
        Job *j = userdata;
        return sd_bus_message_append(reply, "u", (uint32_t)(j->report ? j->report->n_verdicts : 0));
}

static int property_get_progress(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Job *j = userdata;
        return sd_bus_message_append(reply, "d", j->progress);
}

static int property_get_values(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Job *j = userdata;
        int r = sd_bus_message_open_container(reply, 'a', "(ss)");

        for (char **v = j->values; r >= 0 && v && v[0] && v[1]; v += 2)
                r = sd_bus_message_append(reply, "(ss)", v[0], v[1]);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

static int method_cancel(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Job *j = userdata;
        int r;

        r = bus_access_check_owner(j->manager, j->owner, m, error);
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

const sd_bus_vtable bus_job_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Id", "u", NULL, offsetof(Job, id), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("State", "s", property_get_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Progress", "d", property_get_progress, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Phase", "s", property_get_phase, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("PhaseDone", "t", NULL, offsetof(Job, phase_done),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("PhaseTotal", "t", NULL, offsetof(Job, phase_total),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
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
        SD_BUS_PROPERTY("Trust", "s", property_get_trust, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Protection", "s", property_get_protection, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Report", "aa{sv}", property_get_report, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ReportSegments", "u", property_get_report_segments, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Error", "s", property_get_error, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Rule", "o", property_get_rule, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Values", "a(ss)", property_get_values, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Origin", "s", property_get_origin, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_METHOD("Cancel", NULL, NULL, method_cancel, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("Completed", SD_BUS_ARGS("b", success, "s", message), 0),
        SD_BUS_VTABLE_END,
};

static Job *job_from_path(Manager *m, const char *path) {
        uint32_t id = bus_object_path_id(path, DFUSD_JOB_PREFIX);
        Job *j = id > 0 ? job_find(m, id) : NULL;

        return j && j->accepted ? j : NULL;
}

int bus_job_object_find(sd_bus *bus, const char *path, const char *iface, void *userdata, void **found,
                        sd_bus_error *error) {
        Bus *b = userdata;
        Job *j = job_from_path(b->manager, path);

        if (!j)
                return 0;
        *found = j;
        return 1;
}

int bus_job_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes,
                            sd_bus_error *error) {
        Bus *b = userdata;
        _cleanup_strv_free_ char **l = calloc(1, sizeof(char *));

        if (!l)
                return -ENOMEM;
        LIST_FOREACH (jobs, j, b->manager->jobs) {
                _cleanup_free_ char *p = NULL;
                if (j->accepted &&
                    (bus_object_path_new(DFUSD_JOB_PREFIX, j->id, &p) < 0 || strv_extend(&l, p) < 0))
                        return -ENOMEM;
        }
        *nodes = TAKE_PTR(l);
        return 1;
}
