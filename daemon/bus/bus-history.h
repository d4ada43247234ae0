/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

/* Manager.GetHistory: one page of the job records, from the store's indexes on a thread. */
int method_get_history(sd_bus_message *m, void *userdata, sd_bus_error *error);
