/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

typedef struct Sequence Sequence;

/* org.dfusd.Flash1.Sequence: one object per sequence, at sequence/<name, escaped>; and the Manager's
 * AddSequence() and Sequences. */
extern const sd_bus_vtable bus_sequence_vtable[];
int bus_sequence_path(const Sequence *q, char **ret);
int bus_sequence_object_find(sd_bus *bus, const char *path, const char *iface, void *userdata, void **found,
                             sd_bus_error *error);
int bus_sequence_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes,
                                 sd_bus_error *error);
int bus_sequence_method_add(sd_bus_message *m, void *userdata, sd_bus_error *error);
int bus_sequence_property_get_all(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error);
