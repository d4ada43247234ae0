/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* `dfusctl inspect --device PORT`: inspect against a live board's map, through dfusd. */

#include <stdbool.h>

#include "dfusctl.h"

/* True when inspect's arguments ask for a live board (--device). */
bool inspect_wants_device(int argc, char *argv[]);

/* Runs the whole verb for --device (argv as inspect's); returns an exit status. */
int inspect_device(int argc, char *argv[], const DfusctlContext *ctx);
