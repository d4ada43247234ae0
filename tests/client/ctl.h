/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-c/json.h>

#include "harness.h"

/*
 * Runs the dfusctl under test against the daemon of an Integ (its private bus, as the session bus
 * with --user), capturing stdout, stderr and the exit status.
 */

typedef struct CtlResult {
        int status; /* exit status, or 128 + signal */
        char *out, *err;
} CtlResult;

const char *ctl_path(void);
/* The environment for dfusctl: ours plus the test bus as DBUS_SESSION_BUS_ADDRESS. */
char **ctl_environ(Integ *t);
/* dfusctl --user ARGS...; returns the exit status. */
int ctl_run(Integ *t, CtlResult *r, const char *first, ...) G_GNUC_NULL_TERMINATED;
int ctl_runv(Integ *t, char **envp, CtlResult *r, const char *const *args);
/* The same with in on its standard input, through a pipe. */
int ctl_runv_stdin(Integ *t, char **envp, GBytes *in, CtlResult *r, const char *const *args);
/* dfusctl ARGS... without --user, with DBUS_SYSTEM_BUS_ADDRESS set to system_bus_address. */
int ctl_run_system(Integ *t, const char *system_bus_address, CtlResult *r, const char *first,
                   ...) G_GNUC_NULL_TERMINATED;
void ctl_result_clear(CtlResult *r);
/* Parses stdout as one JSON document; fails the test when it is not one. */
json_object *ctl_json(const CtlResult *r);

/* Small JSON accessors that fail the test on a missing key. */
json_object *jget(json_object *o, const char *key);
const char *jstr(json_object *o, const char *key);

/* An Intel HEX file with n bytes of pattern at 0x08000000 and, with ram, 256 bytes at 0x38000000
 * (an initialised RAM section the sanitizer drops). */
char *ctl_image(Integ *t, const char *name, size_t n, bool ram, uint32_t seed);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(CtlResult, ctl_result_clear)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(json_object, json_object_put)
