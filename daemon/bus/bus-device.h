/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

/* org.dfusd.Flash1.Device: one object per attached bootloader, at device/<escaped port path>. */
extern const sd_bus_vtable bus_device_vtable[];
int bus_device_object_find(sd_bus *bus, const char *path, const char *iface, void *userdata, void **found,
                           sd_bus_error *error);
int bus_device_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes,
                               sd_bus_error *error);
