/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

/* Manager.GetHistory: one page of the job records, from the store's indexes on a thread. */
int bus_history_method_get(sd_bus_message *m, void *userdata, sd_bus_error *error);
