/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus-device.h"
#include "bus-events.h"
#include "bus-job.h"
#include "bus-manager.h"
#include "bus-rule.h"
#include "bus-sequence.h"
#include "bus.h"
#include "device.h"
#include "log.h"
#include "manager.h"
#include "parse-util.h"

struct BusCaller {
        char *sender;
        unsigned reads;
        BusCaller *next;
};

int bus_object_path_new(const char *prefix, uint32_t id, char **ret) {
        return asprintf(ret, "%s/%" PRIu32, prefix, id) < 0 ? -ENOMEM : 0;
}

int bus_append_object_path(sd_bus_message *m, const char *prefix, uint32_t id) {
        _cleanup_free_ char *p = NULL;

        if (id == 0)
                return sd_bus_message_append(m, "o", "/");
        if (bus_object_path_new(prefix, id, &p) < 0)
                return -ENOMEM;
        return sd_bus_message_append(m, "o", p);
}

uint32_t bus_object_path_id(const char *path, const char *prefix) {
        _cleanup_free_ char *id = NULL;
        uint64_t v;

        if (sd_bus_path_decode(path, prefix, &id) <= 0 || parse_uint64(id, 10, UINT32_MAX, &v) < 0)
                return 0;
        return (uint32_t)v;
}

int bus_device_path(const Device *d, char **ret) {
        return sd_bus_path_encode(DFUSD_DEVICE_PREFIX, d->port_path, ret);
}

static const char *error_name(int code) {
        switch (code) {
        case ENODEV:
                return DFUSD_ERROR_NO_DEVICE;
        case EBUSY:
        case EAGAIN:
                return DFUSD_ERROR_BUSY;
        case EINVAL:
        case E2BIG:
                return SD_BUS_ERROR_INVALID_ARGS;
        case EMEDIUMTYPE:
        case EFBIG:
        case EBADMSG:
                return DFUSD_ERROR_IMAGE_REJECTED;
        case EACCES:
        case EPERM:
                return DFUSD_ERROR_ACCESS_DENIED;
        case ENOENT:
                return DFUSD_ERROR_NOT_FOUND;
        case ENOMEM:
                return SD_BUS_ERROR_NO_MEMORY;
        default:
                return DFUSD_ERROR_FAILED;
        }
}

int bus_error_from_core(sd_bus_error *error, const DfuError *e) {
        return sd_bus_error_setf(error, error_name(e->code), "%s", dfu_error_message(e));
}

int bus_reply_core_error(sd_bus_message *m, const DfuError *e) {
        return sd_bus_reply_method_errorf(m, error_name(e->code), "%s", dfu_error_message(e));
}

int bus_caller_read_begin(Bus *b, const char *sender) {
        BusCaller *c;

        for (c = b->callers; c; c = c->next)
                if (streq(c->sender, sender))
                        break;
        if (!c) {
                c = calloc(1, sizeof(BusCaller));
                if (!c || !(c->sender = strdup(sender))) {
                        free(c);
                        return -ENOMEM;
                }
                c->next = b->callers;
                b->callers = c;
        }
        if (c->reads >= BUS_READS_PER_CALLER_MAX)
                return -EBUSY;
        c->reads++;
        return 0;
}

void bus_caller_read_end(Bus *b, const char *sender) {
        for (BusCaller **p = &b->callers; *p; p = &(*p)->next) {
                BusCaller *c = *p;
                if (!streq(c->sender, sender))
                        continue;
                if (--c->reads == 0) {
                        *p = c->next;
                        free(c->sender);
                        free(c);
                }
                return;
        }
}

/* Without the bus nobody can be served: finish what runs, record it, and exit non-zero so that the
 * service manager restarts dfusd, which resumes what was queued. */
static int on_disconnected(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;

        log_error("Lost the connection to the %s bus; finishing running jobs, then exiting.",
                  b->user ? "session" : "system");
        manager_drain(b->manager);
        return 0;
}

static int bus_register(Bus *b) {
        sd_bus *bus = b->bus;
        int r;

        r = sd_bus_add_object_vtable(bus, NULL, DFUSD_MANAGER_PATH, DFUSD_IFACE_MANAGER, bus_manager_vtable,
                                     b);
        if (r >= 0)
                r = sd_bus_add_fallback_vtable(bus, NULL, DFUSD_DEVICE_PREFIX, DFUSD_IFACE_DEVICE,
                                               bus_device_vtable, bus_device_object_find, b);
        if (r >= 0)
                r = sd_bus_add_node_enumerator(bus, NULL, DFUSD_DEVICE_PREFIX, bus_device_node_enumerator,
                                               b);
        if (r >= 0)
                r = sd_bus_add_fallback_vtable(bus, NULL, DFUSD_JOB_PREFIX, DFUSD_IFACE_JOB, bus_job_vtable,
                                               bus_job_object_find, b);
        if (r >= 0)
                r = sd_bus_add_node_enumerator(bus, NULL, DFUSD_JOB_PREFIX, bus_job_node_enumerator, b);
        if (r >= 0)
                r = sd_bus_add_fallback_vtable(bus, NULL, DFUSD_RULE_PREFIX, DFUSD_IFACE_RULE,
                                               bus_rule_vtable, bus_rule_object_find, b);
        if (r >= 0)
                r = sd_bus_add_node_enumerator(bus, NULL, DFUSD_RULE_PREFIX, bus_rule_node_enumerator, b);
        if (r >= 0)
                r = sd_bus_add_fallback_vtable(bus, NULL, DFUSD_SEQUENCE_PREFIX, DFUSD_IFACE_SEQUENCE,
                                               bus_sequence_vtable, bus_sequence_object_find, b);
        if (r >= 0)
                r = sd_bus_add_node_enumerator(bus, NULL, DFUSD_SEQUENCE_PREFIX,
                                               bus_sequence_node_enumerator, b);
        if (r < 0)
                return log_error_errno(r, "Failed to register the bus objects: %m");
        r = sd_bus_add_object_manager(bus, NULL, DFUSD_MANAGER_PATH);
        if (r < 0)
                return log_error_errno(r, "Failed to add the object manager: %m");
        r = sd_bus_match_signal(bus, NULL, "org.freedesktop.DBus.Local", "/org/freedesktop/DBus/Local",
                                "org.freedesktop.DBus.Local", "Disconnected", on_disconnected, b);
        if (r < 0)
                return log_error_errno(r, "Failed to watch for the bus going away: %m");
        return sd_bus_set_exit_on_disconnect(bus, false);
}

/* Names the process that holds the bus name, for the message of a second instance. */
static void log_name_holder(Bus *b) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        const char *unique = NULL;
        pid_t pid = 0;

        if (sd_bus_get_name_creds(b->bus, DFUSD_BUS_NAME, SD_BUS_CREDS_PID | SD_BUS_CREDS_UNIQUE_NAME,
                                  &creds) < 0)
                return (void)log_error("The bus name %s is taken by another process.", DFUSD_BUS_NAME);
        (void)sd_bus_creds_get_pid(creds, &pid);
        (void)sd_bus_creds_get_unique_name(creds, &unique);
        log_error("The bus name %s is held by %s (pid %d): another dfusd serves this bus.", DFUSD_BUS_NAME,
                  unique ? unique : "?", (int)pid);
}

int bus_new(Manager *m, bool user, Bus **ret) {
        _cleanup_(bus_freep) Bus *b = calloc(1, sizeof(Bus));
        int r;

        if (!b)
                return log_oom();
        b->manager = m;
        b->user = user;
        r = user ? sd_bus_open_user(&b->bus) : sd_bus_open_system(&b->bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the %s bus: %m",
                                       user ? "session" : "system");
        r = bus_register(b);
        if (r < 0)
                return r;
        /* Synchronous, before the loop runs: nothing is touched unless the name is ours. */
        r = sd_bus_request_name(b->bus, DFUSD_BUS_NAME, 0);
        if (r == -EEXIST) {
                log_name_holder(b);
                return r;
        }
        if (r < 0)
                return log_error_errno(r, "Failed to take the bus name %s: %m", DFUSD_BUS_NAME);
        m->events = &bus_events;
        m->events_userdata = b;
        *ret = TAKE_PTR(b);
        return 0;
}

int bus_attach(Bus *b) {
        int r;

        if (b->attached)
                return 0;
        r = sd_bus_attach_event(b->bus, b->manager->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Failed to attach the bus to the event loop: %m");
        b->attached = true;
        return 0;
}

Bus *bus_free(Bus *b) {
        if (!b)
                return NULL;
        if (b->manager && b->manager->events_userdata == b) {
                b->manager->events = NULL;
                b->manager->events_userdata = NULL;
        }
        while (b->callers) {
                BusCaller *c = b->callers;
                b->callers = c->next;
                free(c->sender);
                free(c);
        }
        sd_bus_flush_close_unref(b->bus);
        return mfree(b);
}
