/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "job.h"
#include "log.h"
#include "manager.h"
#include "queue.h"
#include "rule.h"
#include "time-util.h"

/* How long a board that was asked to leave may stay before it counts as back in its bootloader. */
#define LEAVE_GRACE_USEC (10 * USEC_PER_SEC)

int device_new(Manager *m, const char *port_path, const char *syspath, uint16_t vid, uint16_t pid,
               Device **ret) {
        Device *d = calloc(1, sizeof(Device));

        if (!d)
                return -ENOMEM;
        d->port_path = strdup(port_path);
        d->syspath = syspath ? strdup(syspath) : NULL;
        if (!d->port_path || (syspath && !d->syspath)) {
                free(d->port_path);
                free(d->syspath);
                free(d);
                return -ENOMEM;
        }
        d->manager = m;
        d->station = config_station(&m->config, port_path);
        d->vid = vid;
        d->pid = pid;
        d->generation = ++m->device_generation;
        LIST_APPEND(devices, m->devices, d);
        m->n_devices++;
        *ret = d;
        return 0;
}

Device *device_free(Device *d) {
        if (!d)
                return NULL;
        LIST_REMOVE(devices, d->manager->devices, d);
        d->manager->n_devices--;
        sd_event_source_disable_unref(d->left_source);
        free(d->port_path);
        free(d->syspath);
        free(d->serial);
        strv_free(d->alt_strings);
        memmap_free(d->map);
        free(d->last_error);
        return mfree(d);
}

void device_job_ended(Device *d, const Job *j) {
        d->last_job_id = j->id;
        d->last_error = mfree(d->last_error);
        if (j->state != JOB_DONE) {
                d->last_error = strdup(j->error ? j->error : job_state_to_string(j->state));
                if (!d->last_error)
                        log_oom();
        }
        manager_emit_device_changed(d->manager, d, (const char *const[]){"LastJob", "LastError", NULL});
}

Device *device_find(Manager *m, const char *port_path) {
        LIST_FOREACH (devices, d, m->devices)
                if (streq(d->port_path, port_path))
                        return d;
        return NULL;
}

const char *device_state(const Device *d) {
        if (d->failed)
                return "error";
        return d->current_job || d->left || d->reading ? "busy" : "idle";
}

bool device_is_usable(const Device *d) {
        return d->published && !d->failed && !d->removed;
}

bool device_is_idle(const Device *d) {
        return device_is_usable(d) && !d->left && !d->current_job && !d->reading;
}

void device_update_duplicates(Manager *m) {
        LIST_FOREACH (devices, d, m->devices) {
                bool dup = false;
                if (!d->published || !d->serial || !*d->serial)
                        continue;
                LIST_FOREACH (devices, o, m->devices)
                        if (o != d && o->published && o->serial && streq(o->serial, d->serial))
                                dup = true;
                if (dup != d->serial_duplicated) {
                        d->serial_duplicated = dup;
                        if (dup)
                                log_warning(
                                        "Serial '%s' is reported by more than one board (one on port %s); "
                                        "name boards by port.",
                                        d->serial, d->port_path);
                        manager_emit_device_changed(m, d, (const char *const[]){"SerialDuplicated", NULL});
                }
        }
}

/* A string that does not parse leaves an empty layout: the board is listed, its jobs are rejected. */
static int device_parse_map(Device *d) {
        DfuError error = DFU_ERROR_INIT;

        d->map = memmap_new();
        if (!d->map)
                return -ENOMEM;
        for (char **s = d->alt_strings; s && *s; s++)
                if (memmap_add(d->map, *s, &error) < 0) {
                        log_warning("Board on port %s: %s", d->port_path, dfu_error_message(&error));
                        error = (DfuError)DFU_ERROR_INIT;
                        MemLayout *n = realloc(d->map->layouts, sizeof(MemLayout) * (d->map->n_layouts + 1));
                        if (!n)
                                return -ENOMEM;
                        d->map->layouts = n;
                        n[d->map->n_layouts] = (MemLayout){.alt_setting = (unsigned)d->map->n_layouts};
                        d->map->n_layouts++;
                }
        return 0;
}

int device_publish(Device *d, const DeviceInfo *info) {
        Manager *m = d->manager;
        int r;

        if (!info)
                /* Listed anyway, in State "error", so that the user sees which port misbehaves. */
                d->failed = true;
        else {
                d->serial = strdup(info->serial ? info->serial : "");
                d->alt_strings = strv_copy(info->alt_strings);
                if (!d->serial || !d->alt_strings)
                        return -ENOMEM;
                d->vid = info->vid;
                d->pid = info->pid;
                d->bcd_device = info->bcd_device;
                d->transfer_size = info->transfer_size;
                d->part = info->part;
                d->protection = info->protection;
                r = device_parse_map(d);
                if (r < 0)
                        return r;
        }
        d->published = true;
        MANAGER_EMIT(m, device_added, d);
        manager_emit_changed(m, "Devices");
        if (d->failed)
                return 0;
        device_update_duplicates(m);
        rule_device_added(m, d);
        queue_dispatch(m);
        return 0;
}

void device_remove(Device *d) {
        Manager *m = d->manager;

        if (d->published) {
                MANAGER_EMIT(m, device_removed, d);
                d->published = false;
                manager_emit_changed(m, "Devices");
        }
        /* A running job keeps going on its own handle: the engine reports the loss, or the leave. */
        device_free(d);
        device_update_duplicates(m);
        /* Jobs that were queued for it fail now, or wait if they said so. */
        queue_dispatch(m);
}

static int on_left_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Device *d = userdata;

        d->left = false;
        d->left_source = sd_event_source_disable_unref(d->left_source);
        manager_emit_device_changed(d->manager, d, NULL);
        queue_dispatch(d->manager);
        return 0;
}

void device_mark_left(Device *d) {
        d->left = true;
        d->left_source = sd_event_source_disable_unref(d->left_source);
        if (sd_event_add_time_relative(d->manager->event, &d->left_source, CLOCK_MONOTONIC, LEAVE_GRACE_USEC,
                                       USEC_PER_MSEC * 100, on_left_timeout, d) < 0)
                d->left = false;
}
