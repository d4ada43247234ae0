/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <systemd/sd-bus.h>

#include "patch.h"

/* The "patches" entry of Submit's or AddRule's a{sv}: a(uss) of (address, format, sequence), as
 * dfusctl --patch and dfusd-web's "patches" option both send it. */
int bus_append_patches(sd_bus_message *m, const Patch *patches, size_t n);
