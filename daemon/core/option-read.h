/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

#include "error.h"
#include "option-bytes.h"

typedef struct Manager Manager;
typedef struct Device Device;

/*
 * Reads an idle board's option bytes on demand (Device.ReadOptionBytes), on a thread: the board takes
 * no job meanwhile. done gets the family and the block, or a negative errno and the message; it runs on
 * the event loop, also when the daemon is exiting (m->exiting).
 */
typedef void (*OptionReadFn)(Manager *m, int result, const OptionBytesFamily *f, const uint8_t *block,
                             const DfuError *error, void *userdata);

/* -EBUSY when the board is busy, -EINVAL when its part has no option-byte table. */
int option_read_start(Manager *m, Device *d, OptionReadFn done, void *userdata, DfuError *error);
