/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "bus-dict.h"
#include "bus-history.h"
#include "bus-manager.h"
#include "bus-sequence.h"
#include "bus-submit.h"
#include "bus.h"
#include "device.h"
#include "job.h"
#include "log.h"
#include "manager.h"
#include "rule.h"

/* The Manager object: its properties and methods. */

static int property_get_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", DFUSD_VERSION);
}

static int property_get_max_parallel(sd_bus *bus, const char *path, const char *interface,
                                     const char *property, sd_bus_message *reply, void *userdata,
                                     sd_bus_error *error) {
        Bus *b = userdata;
        return sd_bus_message_append(reply, "u", b->manager->config.max_parallel);
}

static int property_get_jobs(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        int r = sd_bus_message_open_container(reply, 'a', "o");
        if (r < 0)
                return r;
        LIST_FOREACH (jobs, j, b->manager->jobs) {
                _cleanup_free_ char *p = NULL;
                if (!j->accepted)
                        continue;
                if (bus_object_path_new(DFUSD_JOB_PREFIX, j->id, &p) < 0)
                        return -ENOMEM;
                r = sd_bus_message_append(reply, "o", p);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int property_get_devices(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        int r = sd_bus_message_open_container(reply, 'a', "o");
        if (r < 0)
                return r;
        LIST_FOREACH (devices, d, b->manager->devices) {
                _cleanup_free_ char *p = NULL;
                if (!d->published)
                        continue;
                if (bus_device_path(d, &p) < 0)
                        return -ENOMEM;
                r = sd_bus_message_append(reply, "o", p);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int property_get_rules(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        int r = sd_bus_message_open_container(reply, 'a', "o");
        if (r < 0)
                return r;
        LIST_FOREACH (rules, rl, b->manager->rules) {
                _cleanup_free_ char *p = NULL;
                if (bus_object_path_new(DFUSD_RULE_PREFIX, rl->id, &p) < 0)
                        return -ENOMEM;
                r = sd_bus_message_append(reply, "o", p);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

const sd_bus_vtable bus_manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("MaxParallel", "u", property_get_max_parallel, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Jobs", "ao", property_get_jobs, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Devices", "ao", property_get_devices, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Rules", "ao", property_get_rules, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Sequences", "ao", bus_sequence_property_get_all, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("Submit", SD_BUS_ARGS("ah", images, "a{sv}", options),
                                SD_BUS_RESULT("o", job), bus_submit_method_submit,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Inspect", SD_BUS_ARGS("ah", images, "a{sv}", options),
                                SD_BUS_RESULT("a{sv}", result), bus_submit_method_inspect,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("AddRule", SD_BUS_ARGS("ah", images, "a{sv}", match_and_options),
                                SD_BUS_RESULT("o", rule), bus_submit_method_add_rule,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("AddSequence", SD_BUS_ARGS("s", name, "a{sv}", spec),
                                SD_BUS_RESULT("o", sequence), bus_sequence_method_add,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetHistory", SD_BUS_ARGS("a{sv}", filter), SD_BUS_RESULT("aa{sv}", entries),
                                bus_history_method_get, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("JobNew", SD_BUS_ARGS("u", id, "o", job), 0),
        SD_BUS_SIGNAL_WITH_ARGS("JobRemoved", SD_BUS_ARGS("u", id, "o", job, "s", result), 0),
        SD_BUS_VTABLE_END,
};
