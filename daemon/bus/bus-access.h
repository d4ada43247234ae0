/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/types.h>
#include <systemd/sd-bus.h>

typedef struct Manager Manager;

/*
 * Besides the bus policy, the first gate, the daemon checks who calls: root, members of the dfusd group
 * (or the one configured), and on the session bus the user who owns it, may change things. The caller's
 * uid comes from the bus itself; its groups from the group database, never from /proc, where a pid may
 * belong to another process by the time it is read.
 */
int bus_access_caller_uid(sd_bus_message *m, uid_t *ret);
int bus_access_check_caller(Manager *mgr, sd_bus_message *m, uid_t *ret_uid, sd_bus_error *error);
/* The owner of a job may always act on it. */
int bus_access_check_owner(Manager *mgr, uid_t owner, sd_bus_message *m, sd_bus_error *error);
