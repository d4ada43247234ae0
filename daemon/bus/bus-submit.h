/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

/* The Manager methods that take images: they read them on a thread and reply when validated. */
int bus_submit_method_submit(sd_bus_message *m, void *userdata, sd_bus_error *error);
int bus_submit_method_inspect(sd_bus_message *m, void *userdata, sd_bus_error *error);
int bus_submit_method_add_rule(sd_bus_message *m, void *userdata, sd_bus_error *error);
