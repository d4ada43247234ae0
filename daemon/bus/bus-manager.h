/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

/* org.dfusd.Flash1.Manager at /org/dfusd/Flash1: properties, and the methods of bus-submit.c and
 * bus-history.c. */
extern const sd_bus_vtable bus_manager_vtable[];
