/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What every verb that talks to dfusd shares: how to reach the bus (system, session, or a remote
 * system bus over ssh), how to turn a D-Bus error into a message and an exit status, and a generic
 * reader that turns any D-Bus value into JSON, so the human and the --json output come from one
 * parse of the reply.
 */

#include <stdbool.h>

#include <json-c/json.h>
#include <systemd/sd-bus.h>

#include "bus-json.h"
#include "dfusctl.h"
#include "macro.h"

#define DFUSD_BUS_NAME     "org.dfusd.Flash1"
#define DFUSD_PATH         "/org/dfusd/Flash1"
#define DFUSD_JOB_PREFIX   "/org/dfusd/Flash1/job/"
#define DFUSD_RULE_PREFIX  "/org/dfusd/Flash1/rule/"
#define DFUSD_IFACE_MGR    "org.dfusd.Flash1.Manager"
#define DFUSD_IFACE_DEVICE "org.dfusd.Flash1.Device"
#define DFUSD_IFACE_JOB    "org.dfusd.Flash1.Job"
#define DFUSD_IFACE_RULE   "org.dfusd.Flash1.Rule"
#define DFUSD_ERROR_FAILED "org.dfusd.Flash1.Error.Failed"

/* Connects as the options say; prints why on failure. Returns an exit status (0 when connected). */
int bus_connect(const DfusctlContext *args, sd_bus **ret);

/* A bus for a call that hands files to dfusd as descriptors. With -H, which cannot carry them, the
 * whole command runs on the host instead (remote.h), with the files opened so far: returns its exit
 * status and leaves *ret NULL. Otherwise bus_connect(), and EXIT_USAGE (printed) for a connection
 * that cannot carry descriptors. */
int bus_connect_inputs(const DfusctlContext *ctx, sd_bus **ret);

/* Prints "Failed to WHAT: message (error name)" (and, with --json, an error document on stdout),
 * adds how to start dfusd when it is not running, and returns the matching exit status. */
int bus_log_error(const DfusctlContext *args, const char *what, const sd_bus_error *error, int r);

/* Exit status for a D-Bus error name, for callers that report the error themselves. */
int bus_error_exit_status(const sd_bus_error *error, int r);

/* org.freedesktop.DBus.Properties.GetAll as a JSON object. */
int bus_get_all(sd_bus *bus, const char *path, const char *iface, sd_bus_error *error, json_object **ret);

/* ObjectManager.GetManagedObjects on the manager: { path: { interface: { property: value } } }. */
int bus_get_managed_objects(sd_bus *bus, sd_bus_error *error, json_object **ret);

/* "3" or a full object path; ret is the object path under prefix. Returns -EINVAL for junk. */
int bus_object_path_from_arg(const char *prefix, const char *arg, char **ret);

/* Sets every key of from in into (references shared). */
void json_merge(json_object *into, json_object *from);

/* When arg is a number, replaces *path with the path of the object of iface whose Id it is
 * (returns 1); otherwise leaves *path alone (0). */
int bus_resolve_id(sd_bus *bus, const char *iface, const char *arg, char **path);

/* Convenience getters on a property object; defaults when absent or of another type. */
const char *json_get_str(json_object *o, const char *key, const char *def);
uint64_t json_get_u64(json_object *o, const char *key);
double json_get_double(json_object *o, const char *key);
bool json_get_bool(json_object *o, const char *key);

/* From a GetManagedObjects result: the property objects of every object implementing iface, each
 * with a "path" key added, sorted by path in natural order ("job/9" before "job/10"). */
json_object *managed_objects_filter(json_object *objects, const char *iface);

/* Connects, reads GetManagedObjects and keeps the objects of iface as managed_objects_filter()
 * does; WHAT names the attempt in an error ("list jobs"). Returns an exit status. */
int bus_list_objects(const DfusctlContext *ctx, const char *iface, const char *what, json_object **ret);

/* Connects and, when arg is a number, resolves *path to the daemon's own name for the object of
 * iface with that Id (see bus_resolve_id()). Returns an exit status. */
int bus_connect_object(const DfusctlContext *ctx, const char *iface, const char *arg, char **path,
                       sd_bus **ret);

/* As bus_log_error(), with the exit status given instead of derived from the error. */
int bus_log_error_status(const DfusctlContext *args, const char *what, const sd_bus_error *error, int r,
                         int status);

/* Calls METHOD (no arguments, no reply) on the object that arg names (path as parsed from it);
 * WHAT names the attempt in an error ("cancel the job"). NOTHING_TO_DO, when not NULL, is the error
 * name by which the object says that the method has nothing left to act on (a job that has already
 * ended): it exits EXIT_USAGE, like an object that does not exist. With --json prints
 * {"path": PATH, DONE_KEY: true}. Returns an exit status. */
int bus_call_object_method(const DfusctlContext *ctx, const char *iface, const char *arg, char **path,
                           const char *method, const char *what, const char *done_key,
                           const char *nothing_to_do);

/* The last component of an object path, unescaped ("3" for /org/dfusd/Flash1/job/_33), "-" for "/". */
const char *object_path_id_buf(const char *path, char *buf, size_t size);
#define object_path_id(path) object_path_id_buf((path), (char[64]){}, 64)
