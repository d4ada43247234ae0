/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Any D-Bus value as JSON: what dfusctl prints with --json and what dfusd-web mirrors and serves
 * come from the same reading of dfusd's replies and signals.
 */

#include <json-c/json.h>
#include <systemd/sd-bus.h>

#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);
#define _cleanup_bus_error_ _cleanup_(sd_bus_error_free)

/* Reads the complete value at the message's read position into JSON: integers, booleans, doubles,
 * strings and object paths map directly, arrays to arrays, dictionaries to objects (keys as
 * strings), variants to their contents, structs to arrays. */
int bus_message_read_json(sd_bus_message *m, json_object **ret);
