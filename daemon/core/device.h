/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "dfuse.h"
#include "list.h"
#include "memmap.h"
#include "parts.h"

typedef struct Manager Manager;
typedef struct Job Job;
typedef struct Device Device;

/* One attached bootloader, known by its USB port path: ROM serials collide. */
struct Device {
        Manager *manager;
        char *port_path;
        char *syspath;
        char *serial;
        const char *station; /* owned by the config */
        bool serial_duplicated;
        uint16_t vid, pid, bcd_device, transfer_size;
        char **alt_strings;
        MemMap *map;
        const PartInfo *part;
        DfuseProtection protection; /* as the probe at attach found it */
        Job *current_job;
        uint32_t last_job_id; /* the last job that ended on it, 0 for none */
        char *last_error;     /* why that job did not succeed (failed or cancelled); NULL when it did */
        bool published;
        bool removed; /* gone while a probe was running */
        bool failed;  /* probe failed: State "error" */
        bool left;    /* a job asked it to leave: it is going away, so it takes no job until it returns */
        bool reading; /* its option bytes are being read on demand: it takes no job meanwhile */
        sd_event_source *left_source;
        uint64_t generation; /* which udev add created this device */
        LIST_FIELDS(Device, devices);
};

/* What a probe read from the board, handed to device_publish(). */
typedef struct DeviceInfo {
        const char *serial;
        uint16_t vid, pid, bcd_device, transfer_size;
        char *const *alt_strings;
        const PartInfo *part;
        DfuseProtection protection;
} DeviceInfo;

/* A board that appeared at port_path: not yet visible to anyone until published. */
int device_new(Manager *m, const char *port_path, const char *syspath, uint16_t vid, uint16_t pid,
               Device **ret);
Device *device_free(Device *d);
Device *device_find(Manager *m, const char *port_path);
/* The probe read the board (info) or failed (info NULL): it is shown, and jobs and rules see it. */
int device_publish(Device *d, const DeviceInfo *info);
/* The board is gone: a job waiting for it fails or waits, as it asked. */
void device_remove(Device *d);
/* A job asked the board to leave: it takes no job until it drops off or a grace period passes. */
void device_mark_left(Device *d);

/* A job that ran (or was about to run) on the board ended: the board shows how, until the next one. */
void device_job_ended(Device *d, const Job *j);

const char *device_state(const Device *d);
/* Usable at all (published, answered its probe), and free to take a job now. */
bool device_is_usable(const Device *d);
bool device_is_idle(const Device *d);
void device_update_duplicates(Manager *m);
