/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "error.h"
#include "macro.h"

typedef struct Manager Manager;
typedef struct Job Job;
typedef struct Device Device;
typedef struct Rule Rule;
typedef struct BusCaller BusCaller;

#define DFUSD_BUS_NAME        "org.dfusd.Flash1"
#define DFUSD_MANAGER_PATH    "/org/dfusd/Flash1"
#define DFUSD_DEVICE_PREFIX   "/org/dfusd/Flash1/device"
#define DFUSD_JOB_PREFIX      "/org/dfusd/Flash1/job"
#define DFUSD_RULE_PREFIX     "/org/dfusd/Flash1/rule"
#define DFUSD_SEQUENCE_PREFIX "/org/dfusd/Flash1/sequence"
#define DFUSD_IFACE_MANAGER   "org.dfusd.Flash1.Manager"
#define DFUSD_IFACE_DEVICE    "org.dfusd.Flash1.Device"
#define DFUSD_IFACE_JOB       "org.dfusd.Flash1.Job"
#define DFUSD_IFACE_RULE      "org.dfusd.Flash1.Rule"
#define DFUSD_IFACE_SEQUENCE  "org.dfusd.Flash1.Sequence"

#define DFUSD_ERROR_IMAGE_REJECTED "org.dfusd.Flash1.Error.ImageRejected"
#define DFUSD_ERROR_NO_DEVICE      "org.dfusd.Flash1.Error.NoDevice"
#define DFUSD_ERROR_BUSY           "org.dfusd.Flash1.Error.Busy"
#define DFUSD_ERROR_ACCESS_DENIED  "org.dfusd.Flash1.Error.AccessDenied"
#define DFUSD_ERROR_NOT_FOUND      "org.dfusd.Flash1.Error.NotFound"
#define DFUSD_ERROR_CANCELLED      "org.dfusd.Flash1.Error.Cancelled"
#define DFUSD_ERROR_FAILED         "org.dfusd.Flash1.Error.Failed"

/* Image reads in flight at most for one caller (the core bounds all callers together). */
#define BUS_READS_PER_CALLER_MAX 8

/* The daemon's face on D-Bus: the objects, their signals, and the connection's life. */
typedef struct Bus {
        sd_bus *bus;
        Manager *manager;
        bool user;
        bool attached;      /* serving: method calls are read */
        BusCaller *callers; /* image reads in flight per unique bus name */
} Bus;

/* Connects, registers every object and takes the bus name, before anything else is touched: a second
 * instance fails here, naming the first. Calls are served only once bus_attach() is called. */
int bus_new(Manager *m, bool user, Bus **ret);
Bus *bus_free(Bus *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(Bus *, bus_free);
int bus_attach(Bus *b);

/* PREFIX/ID: the object path of job or rule ID. */
int bus_object_path_new(const char *prefix, uint32_t id, char **ret);
/* Appends PREFIX/ID as an "o", or "/" for ID 0 (none). */
int bus_append_object_path(sd_bus_message *m, const char *prefix, uint32_t id);
/* The ID in PREFIX/ID, or 0 when path names no object under prefix. */
uint32_t bus_object_path_id(const char *path, const char *prefix);
int bus_device_path(const Device *d, char **ret);

/* Sets error from the core's: the errno picks the error name (see core/submit.h). */
int bus_error_from_core(sd_bus_error *error, const DfuError *e);
/* Replies to m with the core's error. */
int bus_reply_core_error(sd_bus_message *m, const DfuError *e);

/* Per-caller accounting of image reads: -EBUSY beyond BUS_READS_PER_CALLER_MAX. */
int bus_caller_read_begin(Bus *b, const char *sender);
void bus_caller_read_end(Bus *b, const char *sender);
