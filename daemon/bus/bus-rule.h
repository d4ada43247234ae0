/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

/* org.dfusd.Flash1.Rule: one object per auto-flash rule, at rule/<id>. */
extern const sd_bus_vtable bus_rule_vtable[];
int bus_rule_object_find(sd_bus *bus, const char *path, const char *iface, void *userdata, void **found,
                         sd_bus_error *error);
int bus_rule_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes,
                             sd_bus_error *error);
