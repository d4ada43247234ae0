/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

/* org.dfusd.Flash1.Job: one object per job, at job/<id>, modelled on importd's Transfer. */
extern const sd_bus_vtable bus_job_vtable[];
int bus_job_object_find(sd_bus *bus, const char *path, const char *iface, void *userdata, void **found,
                        sd_bus_error *error);
int bus_job_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes,
                            sd_bus_error *error);
