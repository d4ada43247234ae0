/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * dfusd's objects as the HTTP API and the event stream show them: lower-case keys, ids instead of
 * object paths, times in microseconds since the epoch as dfusd keeps them. One function per kind, so
 * a device in GET devices and in an event are the same document.
 */

#include <json-c/json.h>
#include <stdbool.h>

#include "config.h"
#include "mirror.h"

/* The number at the end of an object path ("/org/dfusd/Flash1/job/_37" is 7), or 0 for "/". */
unsigned repr_path_id(const char *path, const char *prefix);

json_object *repr_device(const WebConfig *c, const Mirror *m, json_object *props);
json_object *repr_job(json_object *props, bool with_report);
json_object *repr_rule(json_object *props);
/* Every object of KIND in the mirror, sorted by id (devices: by station order, then port). */
json_object *repr_list(const WebConfig *c, const Mirror *m, const char *kind);
/* What a browser needs to draw the whole page: devices, jobs, rules, stations, dfusd's presence. */
json_object *repr_snapshot(const WebConfig *c, const Mirror *m, json_object *today);
